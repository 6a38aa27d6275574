"""TLS through the real server with throwaway certificates (trustme): https scheme, client certs, errors."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path

import pytest
import trustme

from sockweb.server.config import Config
from sockweb.server.tls import TLSConfigError, build_ssl_context

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def certs(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "ca": tmp_path / "ca.pem",
        "client": tmp_path / "client.pem",
    }
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(paths["client"])
    return {k: str(v) for k, v in paths.items()}


def _https_get(port: int, context: ssl.SSLContext) -> dict[str, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.status == 200
        data: dict[str, str] = json.loads(resp.read())
        return data
    finally:
        conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_https_through_the_real_server(serve, ca: trustme.CA, certs: dict[str, str], workers: str) -> None:
    server = serve("--certfile", certs["cert"], "--keyfile", certs["key"], "--workers", workers)
    assert "Listening at https://" in server.log()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    info = _https_get(server.port, client)
    assert info["scheme"] == "https"
    with pytest.raises((http.client.HTTPException, OSError)):  # plain HTTP on a TLS port gets no answer
        server.get(timeout=5)


def test_client_certificates_required(serve, ca: trustme.CA, certs: dict[str, str]) -> None:
    server = serve(
        "--certfile",
        certs["cert"],
        "--keyfile",
        certs["key"],
        "--ca-certs",
        certs["ca"],
        "--cert-reqs",
        "required",
    )
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with pytest.raises((ssl.SSLError, OSError)):
        _https_get(server.port, client)
    client.load_cert_chain(certs["client"])
    assert _https_get(server.port, client)["scheme"] == "https"


def test_tls_errors_name_the_setting_and_file(serve, certs: dict[str, str], app_dir: Path) -> None:
    missing = serve("--certfile", str(app_dir / "nope.pem"), wait=False)
    assert missing.proc.wait(20) == 1
    assert "--certfile: cannot read" in missing.log() and "nope.pem" in missing.log()
    (app_dir / "garbage.pem").write_text("not a certificate\n")
    bad = serve("--certfile", str(app_dir / "garbage.pem"), wait=False)
    assert bad.proc.wait(20) == 1
    assert "cannot load the certificate and key" in bad.log()
    assert "Traceback" not in bad.log()


def test_build_ssl_context_unit(certs: dict[str, str], ca: trustme.CA) -> None:
    assert build_ssl_context(Config()) is None
    context = build_ssl_context(Config(certfile=certs["cert"], keyfile=certs["key"], ciphers="ECDHE+AESGCM"))
    assert context is not None and context.verify_mode == ssl.CERT_NONE
    other_key = Path(certs["key"]).with_name("other-key.pem")
    trustme.CA().issue_cert("x").private_key_pem.write_to_path(other_key)
    with pytest.raises(TLSConfigError, match="does the key match"):
        build_ssl_context(Config(certfile=certs["cert"], keyfile=str(other_key)))
    with pytest.raises(TLSConfigError, match="--ciphers: no cipher matches 'NOPE'"):
        build_ssl_context(Config(certfile=certs["cert"], keyfile=certs["key"], ciphers="NOPE"))
    with pytest.raises(TLSConfigError, match="--ca-certs: cannot read"):
        build_ssl_context(
            Config(certfile=certs["cert"], keyfile=certs["key"], ca_certs="/nonexistent/ca.pem")
        )
