"""The application layer: the privacy office's use cases between the engine and the writers. The CLI,
the demo, the benchmarks and the web app call these; each takes an open Vault and returns plain typed
results (dataclasses) for the caller to print or render. Nothing here parses arguments or prints.

period: review a period (rules, findings, suppressions, cases) or preview one; monthly: the monthly
report's model and its files; patient_access: who opened a patient's chart and why; casework: cases
and suppressions; release: release of information; retention: plans, holds, purges, the log's
archive; ingest: an EHR export into the vault; audit_log: verify, checkpoint, prove (and the report's
check in another process); demo: the README's first command."""
