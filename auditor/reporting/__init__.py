"""Reports for the privacy office: the Jinja environment (reports/ and a site's folder), the report
models (monthly, patient), inline SVG charts, and the writers (HTML, PDF, CSV, JSON)."""
