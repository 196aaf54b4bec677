"""The privacy office's web app (`auditor serve`): server-rendered pages over the same use-cases as the
CLI. Every page declares the roles that may open it (auditor.web.routes, default deny), runs as the
signed-in staff account, and reads PHI only through the gateway as that account."""
