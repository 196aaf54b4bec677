"""Staff accounts: the privacy office's people, who sign in to the web app and the CLI with a password
and a TOTP code (RFC 6238), each holding one or more roles. Accounts and sessions are written through
the gateway as the service desk svc:staff, every change an audit event; the account rows are in the
ledger of trusted rows (auditor.vault.ledger)."""
