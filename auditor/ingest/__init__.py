"""Loading outside data into the vault, always through the access gateway."""
