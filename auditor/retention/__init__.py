"""Retention: schedules (policies/retention/), legal holds, the plan, purge by crypto-shredding, and
the certificate of destruction."""
