"""Taking a month's audit off this machine: the month's events and context as a signed Parquet export
(month_export), and the check any reader of one runs before it audits anything (month_input).

The export is for an engine elsewhere (a Spark cluster) and for another auditor: it holds the stored
values of the events (no name, no MRN; a break-the-glass reason stays sealed) and the clear columns
of the context the rules read, and its manifest carries the Merkle root of each day's events, the
log's signed checkpoint and the vault's Ed25519 signature over all of it.
"""
