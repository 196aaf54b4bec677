"""auditor serve: the privacy office's web app (auditor.web) on this vault.

By default on the loopback interface only, over plain HTTP, for one workstation. In production it
listens behind a reverse proxy that terminates TLS (--behind-proxy): cookies are then Secure, HSTS
is sent, and the proxy's X-Forwarded-* headers are believed from the proxy's address only."""

from __future__ import annotations

import ipaddress
import logging.config
import signal
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import open_vault
from auditor.errors import ConfigurationError

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


LOG_CONFIG = {  # uvicorn's own access log is off: ours names the route, not the path asked for
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {"uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
                "auditor.web": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
}


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command("serve")
@click.option("--home", "serve_home", type=click.Path(file_okay=False),
              help="The vault to serve (default: auditor --home, else $AUDITOR_HOME).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --behind-proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--behind-proxy", is_flag=True,
              help="Served by a reverse proxy that terminates TLS: Secure cookies, HSTS, X-Forwarded-For believed.")
@click.option("--proxy-address", default="127.0.0.1", show_default=True,
              help="With --behind-proxy: the proxy's address, the only one whose X-Forwarded-* headers count.")
@click.option("--site-policies", type=_DIR, default=None,
              help="The site's policy folder: its rules, approved explanations and cases.yaml (review budget).")
@click.option("--site", "site_dir", type=_DIR, default=None,
              help="A site folder: site.yaml (organisation, logo) and templates that override ours.")
@click.pass_context
def serve(ctx, serve_home, host, port, behind_proxy, proxy_address, site_policies, site_dir):
    """Serve the privacy office's web app on a vault until stopped (Ctrl-C, or SIGTERM from a service
    manager; either way the vault is closed and what the app appended to the audit log is signed).

    Open http://127.0.0.1:8000/login (or --host and --port). Staff sign in with their account and a
    TOTP code; each role sees its own pages. --site-policies and --site are the folders the CLI's
    findings, cases and report commands take: the web app's queue, case pages and reports use them. A new vault has no account: add the first admin with
    `auditor users add NAME --name "Full Name" --role admin --password-stdin` and load the otpauth://
    URI it prints into an authenticator app. `auditor demo` makes a demo vault with an account and
    prints the serve command and how to sign in.

    Sessions end after 15 idle minutes and after 12 hours (45 CFR 164.312(a)(2)(iii)). Every response
    has a Content-Security-Policy without inline script, frame-ancestors 'none', nosniff, no-referrer
    and no-store; the log (on stderr) names routes, never paths or query strings. A keyring sealed by
    a passphrase is opened with AUDITOR_PASSPHRASE or a prompt.

    \b
    Production: behind a TLS proxy (a reverse proxy that terminates TLS) on the same host:
      auditor serve --home /srv/privacy-vault --host 127.0.0.1 --port 8000 --behind-proxy
    with nginx (proxy_pass http://127.0.0.1:8000) or Caddy (reverse_proxy 127.0.0.1:8000) serving
    https://privacy.example.org; see README, "Staff accounts and the web app"."""
    import uvicorn

    from auditor.web.app import create_app

    if not loopback(host) and not behind_proxy:
        raise ConfigurationError(f"--host {host} is not a loopback address: the app speaks plain HTTP, so serve it "
                                 "behind a TLS proxy (--behind-proxy) or on 127.0.0.1")
    if serve_home:
        ctx.obj["home"] = serve_home
    vault = open_vault(ctx)
    try:  # the site's files are read (and linted) before the app starts; a broken one stops it
        app = create_app(vault, secure=behind_proxy, site_dir=site_dir, site_policies=site_policies)
    except BaseException:
        vault.close()
        raise
    logging.config.dictConfig(LOG_CONFIG)
    scheme = "https (behind the proxy)" if behind_proxy else "http"
    click.echo(f"serving the privacy office on {scheme} at {host}:{port}; Ctrl-C stops it", err=True)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=LOG_CONFIG,
                            proxy_headers=behind_proxy, forwarded_allow_ips=proxy_address if behind_proxy else None,
                            server_header=False, date_header=True)
    previous = signal.signal(signal.SIGTERM, _stop)  # a service manager's stop: the vault still closes
    try:
        uvicorn.Server(config).run()  # it ends on SIGINT or SIGTERM, then raises the signal again
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("stopped", err=True)


def _stop(signum, frame):
    raise KeyboardInterrupt
