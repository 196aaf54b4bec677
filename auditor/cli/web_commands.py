"""auditor serve: the privacy office's web app (auditor.web) on this vault.

By default on the loopback interface only, over plain HTTP, for one workstation. In production it
listens behind a reverse proxy that terminates TLS (--behind-proxy): cookies are then Secure, HSTS
is sent, and the proxy's X-Forwarded-* headers are believed from the proxy's address only. Or it
serves TLS itself (--tls-cert, --tls-key), asking clients for a certificate with --client-ca: a feed
account's registered certificate then stands for its bearer token."""

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
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


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
@click.option("--tls-cert", type=_FILE, default=None,
              help="Serve HTTPS itself with this certificate (PEM, its chain after it) instead of behind a proxy.")
@click.option("--tls-key", type=_FILE, default=None, help="With --tls-cert: its private key (PEM).")
@click.option("--client-ca", type=_FILE, default=None,
              help="With --tls-cert: ask clients for a certificate this CA signed (optional for browsers); a "
                   "feed account's registered certificate then stands for its bearer token (auditor feeds add "
                   "--certificate).")
@click.pass_context
def serve(ctx, serve_home, host, port, behind_proxy, proxy_address, site_policies, site_dir, tls_cert, tls_key,
          client_ca):
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

    if (tls_cert is None) != (tls_key is None):
        raise ConfigurationError("--tls-cert and --tls-key go together")
    if client_ca is not None and tls_cert is None:
        raise ConfigurationError("--client-ca needs --tls-cert and --tls-key: client certificates come with TLS")
    if tls_cert is not None and behind_proxy:
        raise ConfigurationError("--behind-proxy is for a proxy that ends TLS; with --tls-cert the app ends it itself")
    if not loopback(host) and not behind_proxy and tls_cert is None:
        raise ConfigurationError(f"--host {host} is not a loopback address: the app speaks plain HTTP, so serve it "
                                 "behind a TLS proxy (--behind-proxy), with --tls-cert and --tls-key, or on 127.0.0.1")
    if tls_cert is not None:
        _check_tls_files(tls_cert, tls_key, client_ca)
    tls = _tls_options(tls_cert, tls_key, client_ca)
    if serve_home:
        ctx.obj["home"] = serve_home
    vault = open_vault(ctx)
    try:  # the site's files are read (and linted) before the app starts; a broken one stops it
        app = create_app(vault, secure=behind_proxy or tls_cert is not None, site_dir=site_dir,
                         site_policies=site_policies)
    except BaseException:
        vault.close()
        raise
    logging.config.dictConfig(LOG_CONFIG)
    scheme = ("https (behind the proxy)" if behind_proxy else "https" + (" (client certificates asked for)"
              if client_ca else "") if tls_cert else "http")
    click.echo(f"serving the privacy office on {scheme} at {host}:{port}; Ctrl-C stops it", err=True)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=LOG_CONFIG,
                            proxy_headers=behind_proxy, forwarded_allow_ips=proxy_address if behind_proxy else None,
                            server_header=False, date_header=True, **tls)
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


def _tls_options(cert: Path | None, key: Path | None, client_ca: Path | None) -> dict:
    """uvicorn's options for serving TLS itself: with a client CA, clients are asked for a certificate
    (optional: a browser has none) and a verified one reaches the app (auditor.web.tls)."""
    if cert is None:
        return {}
    import ssl

    from auditor.web.tls import H11WithClientCertificate

    # TLS 1.2 at least (Python's default), and for 1.2 forward-secret AEAD suites only (uvicorn's default
    # "TLSv1" would also offer CBC with SHA-1); TLS 1.3's suites are all of that kind
    options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key), "ssl_ciphers": "ECDHE+AESGCM:ECDHE+CHACHA20"}
    if client_ca is not None:
        options.update(ssl_ca_certs=str(client_ca), ssl_cert_reqs=ssl.CERT_OPTIONAL, http=H11WithClientCertificate)
    return options


def _check_tls_files(cert: Path, key: Path, client_ca: Path | None) -> None:
    """Refuse, in one line and before anything starts, files uvicorn would only fail on as it starts."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigurationError(f"--tls-cert {cert.name} and --tls-key {key.name} are not a PEM certificate and "
                                 "its private key (unencrypted)") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(str(client_ca))
        except (ssl.SSLError, OSError, ValueError):
            raise ConfigurationError(f"--client-ca {client_ca.name} holds no PEM certificate") from None
