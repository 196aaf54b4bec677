"""Reports for the privacy office, laid out: the Jinja environment (reports/ and a site's folder), the
report layouts (monthly, patient) of what auditor.review gathers, inline SVG charts, and the writers
(HTML, PDF, CSV, JSON). Nothing here reads the vault."""
