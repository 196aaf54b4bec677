"""The privacy office's cases: each workforce member's unmuted findings of a period form one case,
reviewed and closed with a disposition and a sanction (45 CFR 164.530(e)), documented and kept
(164.530(j)). Every change is audited and the history is append-only.

settings: policies/cases.yaml; attach: findings into cases (idempotent); workflow: review, close,
note; listing: ranked lists and one case's file; statistics: what the monthly report counts."""
