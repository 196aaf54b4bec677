"""Release of information: requests, permissions (authorizations, Part 2 consents, legal process),
fulfilment through the gateway, the disclosures ledger and the accounting of disclosures."""
