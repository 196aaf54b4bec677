"""auditor: a medical-records privacy auditor.

Data flows one way: gateway / ingest -> audit log -> policy engine -> findings -> report writers.
"""

__version__ = "0.1.0"
