"""The web app serving TLS itself (`auditor serve --tls-cert --tls-key [--client-ca]`) rather than
behind a proxy: uvicorn's HTTP/1.1 protocol, with the ASGI TLS extension's `client_cert_chain` filled
in from the handshake (uvicorn does not fill it in). Only a certificate the handshake verified
against the server's --client-ca is passed on: with no CA the server asks for none, and this
protocol is not used."""

from __future__ import annotations

import ssl

from uvicorn.protocols.http.h11_impl import H11Protocol


class H11WithClientCertificate(H11Protocol):
    """Each connection's requests carry the client certificate its TLS handshake verified, if any."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = transport.get_extra_info("ssl_object")
        if tls is None or tls.context.verify_mode == ssl.CERT_NONE:  # unverified: never passed on
            return
        der = tls.getpeercert(binary_form=True)
        if not der:
            return
        extension = {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)], "tls_version": tls.version(),
                     "cipher_suite": (tls.cipher() or ("",))[0]}
        app = self.app

        async def with_certificate(scope, receive, send):
            if scope.get("type") in ("http", "websocket"):
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": extension}}
            return await app(scope, receive, send)

        self.app = with_certificate
