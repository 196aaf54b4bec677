"""The policy engine: rules as data (policies/rules/*.yaml), typed frames of the audit log and the
records' clear columns, explanations of accesses, detectors, and the findings they produce.

Data flows one way: frames -> explanations and identity links -> detectors -> findings. Nothing here
decrypts: people are compared through blind indexes, and names and MRNs for the output are read
through the gateway (auditor.vault.gateway.directory), audited."""
