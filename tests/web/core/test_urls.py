"""IRI <-> URI conversion, and every place that puts a URL or host on the wire going through it."""

from __future__ import annotations

from typing import Any

import pytest

from sockweb.web.exceptions import RequestRedirect
from sockweb.web.httputil import dump_cookie
from sockweb.web.lint import LintMiddleware
from sockweb.web.response import Response, redirect
from sockweb.web.testing import Client, create_environ
from sockweb.web.urls import decode_host, encode_host, iri_to_uri, uri_to_iri


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("http://☃.net/", "http://xn--n3h.net/"),
        ("http://üser:pässword@☃.net/påth", "http://%C3%BCser:p%C3%A4ssword@xn--n3h.net/p%C3%A5th"),
        ("/füü", "/f%C3%BC%C3%BC"),
        ("/a?q=ü#frag ü", "/a?q=%C3%BC#frag%20%C3%BC"),
        ("http://föö.com:8080/bam", "http://xn--f-1gaa.com:8080/bam"),
        ("http://[::1]:80/ü", "http://[::1]:80/%C3%BC"),
        ("itms-services://?action=x", "itms-services://?action=x"),
        ("/path[b]?(p)", "/path%5Bb%5D?(p)"),
        ("/a?", "/a?"),
    ],
)
def test_iri_to_uri(iri: str, uri: str) -> None:
    assert iri_to_uri(iri) == uri
    assert iri_to_uri(uri) == uri  # idempotent: a URI is left as it is


@pytest.mark.parametrize(
    ("uri", "iri"),
    [
        ("http://xn--n3h.net/%E2%98%83", "http://☃.net/☃"),
        # Decoding these would change the URL's structure: they stay escaped.
        ("/a%2Fb%3F%25", "/a%2Fb%3F%25"),
        ("/?q=%26%3D%C3%BC", "/?q=%26%3Dü"),
        ("/abc%20def", "/abc%20def"),
        # Not UTF-8: left escaped rather than replaced.
        ("/%FF%C3%BC", "/%FFü"),
        ("http://:@d.test", "http://:@d.test"),
    ],
)
def test_uri_to_iri(uri: str, iri: str) -> None:
    assert uri_to_iri(uri) == iri


def test_round_trip() -> None:
    uri = "http://xn--f-1gaa.com/%2F%25?q=%C3%B6&x=%3D%25#%25"
    assert iri_to_uri(uri_to_iri(uri)) == uri


def test_hosts() -> None:
    assert encode_host("☃.example.com") == "xn--n3h.example.com"
    assert decode_host("xn--n3h.example.com") == "☃.example.com"
    assert decode_host("xn--invalid-.com") == "xn--invalid-.com"
    # A label IDNA refuses (over 63 characters) is still made ASCII.
    assert encode_host("ü" * 70 + ".com").isascii()


def _wire_headers(app: Any) -> list[tuple[str, str]]:
    """Headers as a server sees them, through the lint middleware in strict mode (non-latin-1 -> error)."""
    seen: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.extend(headers)
        return lambda data: None

    result = LintMiddleware(app, strict=True)(create_environ("/"), start_response)
    b"".join(result)
    result.close()  # type: ignore[attr-defined]
    for _, value in seen:
        value.encode("latin-1")
    return seen


def test_redirect_to_unicode_path_sends_a_uri() -> None:
    # Regression: redirect("/füü") sent a non-latin-1 Location, a 500 on the wire.
    headers = dict(_wire_headers(redirect("/füü")))
    assert headers["Location"] == "/f%C3%BC%C3%BC"


def test_location_set_by_hand_is_encoded() -> None:
    response = Response("x")
    response.headers["Location"] = "http://☃.net/ü"
    response.headers["Content-Location"] = "/ä"
    headers = dict(_wire_headers(response))
    assert headers["Location"] == "http://xn--n3h.net/%C3%BC"
    assert headers["Content-Location"] == "/%C3%A4"


def test_request_redirect_to_unicode_url() -> None:
    headers = dict(_wire_headers(RequestRedirect("http://☃.net/ü").get_response(create_environ("/"))))
    assert headers["Location"] == "http://xn--n3h.net/%C3%BC"


def test_client_follows_unicode_redirect() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/":
            return redirect("/füü")(environ, start_response)
        return Response(environ["PATH_INFO"].encode("latin-1").decode("utf-8"))(environ, start_response)

    assert Client(app).get("/", follow_redirects=True).text == "/füü"


def test_cookie_domain_is_idna_encoded() -> None:
    # Regression: Domain=☃.com went out as is (not latin-1: a 500 on the wire).
    header = dump_cookie("a", "b", domain="☃.com", path="/ü")
    assert "Domain=xn--n3h.com" in header
    assert "Path=/%C3%BC" in header
    response = Response()
    response.set_cookie("a", "b", domain="☃.com")
    assert dict(_wire_headers(response))["Set-Cookie"].startswith("a=b; Domain=xn--n3h.com")
