from auditor.audit import schema as _audit_schema  # noqa: F401  (registers the audit tables)
from auditor.database import RecordsBase
from auditor.migrations._env import run
from auditor.vault import records as _records  # noqa: F401

run(RecordsBase.metadata)
