"""auditor serve: the privacy office's web app (auditor.web) on this vault.

By default on the loopback interface only, over plain HTTP, for one workstation. In production it
listens behind a reverse proxy that terminates TLS (--behind-proxy): cookies are then Secure, HSTS
is sent, and the proxy's X-Forwarded-* headers are believed from the proxy's address only."""

from __future__ import annotations

import ipaddress
import logging.config
import signal

import click

from auditor.cli import cli
from auditor.cli.session import open_vault
from auditor.errors import ConfigurationError


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
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --behind-proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--behind-proxy", is_flag=True,
              help="Served by a reverse proxy that terminates TLS: Secure cookies, HSTS, X-Forwarded-For believed.")
@click.option("--proxy-address", default="127.0.0.1", show_default=True,
              help="With --behind-proxy: the proxy's address, the only one whose X-Forwarded-* headers count.")
@click.pass_context
def serve(ctx, host, port, behind_proxy, proxy_address):
    """Serve the web app on this vault until interrupted (Ctrl-C).

    Staff sign in with their account (auditor users add) and a TOTP code. Sessions end after 15 idle
    minutes and after 12 hours (45 CFR 164.312(a)(2)(iii)). Every response has a Content-Security-
    Policy, frame-ancestors 'none', no-referrer and no-store; the log names routes, never paths or
    query strings. Production: behind a TLS proxy, e.g. --host 127.0.0.1 --behind-proxy with nginx
    or Caddy forwarding https://privacy.example.org to it (see README, "The web app")."""
    import uvicorn

    from auditor.web.app import create_app

    if not loopback(host) and not behind_proxy:
        raise ConfigurationError(f"--host {host} is not a loopback address: the app speaks plain HTTP, so serve it "
                                 "behind a TLS proxy (--behind-proxy) or on 127.0.0.1")
    vault = open_vault(ctx)
    app = create_app(vault, secure=behind_proxy)
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
