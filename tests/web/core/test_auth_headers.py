"""WWW-Authenticate challenges and Authorization round trips."""

from __future__ import annotations

from sockweb.web.datastructures import Headers
from sockweb.web.exceptions import Unauthorized
from sockweb.web.httputil import Authorization, WWWAuthenticate


def test_www_authenticate_parse_and_format() -> None:
    challenge = WWWAuthenticate.from_header('Digest realm="a b", nonce="xyz", qop="auth,auth-int"')
    assert challenge is not None
    assert challenge.type == "digest"
    assert challenge.realm == "a b"
    assert challenge["qop"] == "auth,auth-int"
    challenge.realm = "other"
    assert challenge.to_header() == 'Digest realm="other", nonce="xyz", qop="auth,auth-int"'
    assert WWWAuthenticate("bearer").to_header() == "Bearer"
    assert WWWAuthenticate.from_header("Token abc==") == WWWAuthenticate("token", token="abc==")
    assert WWWAuthenticate.from_header("") is None
    # A value cannot break out of its quotes.
    assert str(WWWAuthenticate("basic", {"realm": 'x", evil="1'})) == 'Basic realm="x\\", evil=\\"1"'


def test_unauthorized_sends_each_challenge() -> None:
    basic = WWWAuthenticate("basic", {"realm": "r"})
    digest = WWWAuthenticate("digest", {"realm": "r", "nonce": "n"})
    headers = Headers(Unauthorized(www_authenticate=[digest, basic]).get_headers({}))
    assert headers.getlist("WWW-Authenticate") == [str(digest), 'Basic realm="r"']
    assert (
        Headers(Unauthorized(www_authenticate=basic).get_headers({}))["WWW-Authenticate"] == 'Basic realm="r"'
    )
    assert "WWW-Authenticate" not in Headers(Unauthorized().get_headers({}))


def test_authorization_from_header() -> None:
    auth = Authorization.from_header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert auth is not None and (auth.username, auth.password) == ("Aladdin", "open sesame")
    assert auth.to_header() == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    digest = Authorization.from_header('Digest username="Mufasa", nonce="abc", qop=auth')
    assert digest is not None and digest.nonce == "abc" and digest.qop == "auth"
    assert Authorization.from_header(None) is None
