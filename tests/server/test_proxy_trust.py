"""Which proxy headers the server believes: one family, only the fields the proxy overwrites.

The attack these tests pin down: behind a proxy that sets only X-Forwarded-For/-Proto, a client's own
``Forwarded: for=127.0.0.1;proto=https;host=localhost`` (or ``X-Forwarded-Host``) passes through the proxy
untouched; merging it made a remote client look local to the application and to the debugger.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sockweb.server.config import Config, ConfigError, load_config
from sockweb.server.proxy import FAMILIES, FIELDS, AllowList, ProxyFixer, check_fields
from sockweb.server.wsgi import FORWARDING_KEYS

# What a hostile client sends, all five forwarding headers plus X-Real-IP, through a proxy on 127.0.0.1
# that wrote only X-Forwarded-For (appending the client's real address) and X-Forwarded-Proto.
SPOOFED = {
    "HTTP_FORWARDED": "for=127.0.0.1;proto=https;host=localhost",
    "HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.7",
    "HTTP_X_FORWARDED_PROTO": "http",
    "HTTP_X_FORWARDED_HOST": "localhost",
    "HTTP_X_FORWARDED_PORT": "443",
    "HTTP_X_FORWARDED_PREFIX": "/admin",
    "HTTP_X_REAL_IP": "127.0.0.1",
}


def _fix(environ: dict[str, object], **settings: object) -> dict[str, object]:
    env: dict[str, object] = {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "example.com",
        "SERVER_NAME": "0.0.0.0",
        "SERVER_PORT": "8000",
    }
    env.update(environ)
    fixer = ProxyFixer.from_config(Config(**settings))  # type: ignore[arg-type]
    assert fixer is not None
    fixer.apply(env)
    return env


def _seen(env: dict[str, object]) -> tuple[object, ...]:
    return (
        env["REMOTE_ADDR"],
        env["wsgi.url_scheme"],
        env["HTTP_HOST"],
        env["SERVER_NAME"],
        env["SERVER_PORT"],
    )


def test_default_believes_only_x_forwarded_for_and_proto() -> None:
    env = _fix(dict(SPOOFED))
    assert _seen(env) == ("203.0.113.7", "http", "example.com", "0.0.0.0", "8000")
    # The headers the proxy did not vouch for do not reach the application; the believed ones stay.
    assert FORWARDING_KEYS & env.keys() == {"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"}
    assert env["HTTP_X_REAL_IP"] == "127.0.0.1"  # not a forwarding header sockweb reads; left alone


def test_forwarded_alone_is_not_believed_by_default() -> None:
    env = _fix({"HTTP_FORWARDED": "for=127.0.0.2;proto=https;host=localhost"}, forwarded_allow_ips=("*",))
    assert _seen(env) == ("127.0.0.1", "http", "example.com", "0.0.0.0", "8000")
    assert "HTTP_FORWARDED" not in env


def test_forwarded_family_ignores_x_forwarded() -> None:
    env = _fix(
        {**SPOOFED, "HTTP_FORWARDED": 'for=198.51.100.1;proto=https;host="a.example:8443"'},
        forwarded_headers="forwarded",
        forwarded_fields=("for", "proto", "host", "port"),
    )
    assert _seen(env) == ("198.51.100.1", "https", "a.example:8443", "a.example", "8443")
    assert FORWARDING_KEYS & env.keys() == {"HTTP_FORWARDED"}


def test_fields_not_listed_are_neither_applied_nor_kept() -> None:
    env = _fix(dict(SPOOFED), forwarded_fields=("for",))
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "http"
    assert FORWARDING_KEYS & env.keys() == {"HTTP_X_FORWARDED_FOR"}
    env = _fix({**SPOOFED, "HTTP_X_FORWARDED_PROTO": "https"}, forwarded_fields=("proto",))
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["wsgi.url_scheme"] == "https"
    env = _fix(
        {"HTTP_FORWARDED": "for=192.0.2.1;proto=https"}, forwarded_headers="forwarded", forwarded_fields=()
    )
    assert _seen(env) == ("127.0.0.1", "http", "example.com", "0.0.0.0", "8000")


def test_host_and_port_when_the_proxy_overwrites_them() -> None:
    env = _fix(
        {
            "HTTP_X_FORWARDED_FOR": "203.0.113.7",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "shop.example",
            "HTTP_X_FORWARDED_PORT": "8443",
        },
        forwarded_fields=("for", "proto", "host", "port"),
    )
    assert _seen(env) == ("203.0.113.7", "https", "shop.example", "shop.example", "8443")


def test_rightmost_untrusted_hop_is_the_client() -> None:
    # nginx appends the address it saw to whatever X-Forwarded-For the client sent.
    env = _fix({"HTTP_X_FORWARDED_FOR": "127.0.0.1, ::1, 10.0.0.5"}, forwarded_allow_ips=("127.0.0.1",))
    assert env["REMOTE_ADDR"] == "10.0.0.5"
    # Through two trusted proxies (10.0.0.2 appended the client, 127.0.0.1 is our peer).
    env = _fix(
        {"HTTP_X_FORWARDED_FOR": "127.0.0.9, 198.51.100.3, 10.0.0.2"},
        forwarded_allow_ips=("127.0.0.1", "10.0.0.0/8"),
    )
    assert env["REMOTE_ADDR"] == "198.51.100.3"
    env = _fix(
        {"HTTP_FORWARDED": 'for=127.0.0.1, for="[2001:db8::7]:4711", for=10.0.0.2'},
        forwarded_allow_ips=("127.0.0.1", "10.0.0.0/8"),
        forwarded_headers="forwarded",
    )
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::7", "4711")
    # nginx's for="$remote_addr" gives a bare IPv6 address.
    env = _fix({"HTTP_FORWARDED": 'for="2001:db8::8"'}, forwarded_headers="forwarded")
    assert env["REMOTE_ADDR"] == "2001:db8::8"


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_FORWARDED": "for=127.0.0.2;for=127.0.0.3"},  # RFC 7239 §4: a parameter at most once
        {"HTTP_FORWARDED": "for=127.0.0.2 junk"},
        {"HTTP_FORWARDED": 'for="127.0.0.2'},
        {"HTTP_FORWARDED": "for=unknown;proto=gopher;host=a/b"},
        {"HTTP_FORWARDED": ""},
    ],
)
def test_malformed_forwarded_changes_nothing(headers: dict[str, object]) -> None:
    env = _fix(headers, forwarded_headers="forwarded", forwarded_fields=("for", "proto", "host"))
    assert _seen(env) == ("127.0.0.1", "http", "example.com", "0.0.0.0", "8000")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_FOR": "not-an-ip", "HTTP_X_FORWARDED_PROTO": "javascript"},
        {"HTTP_X_FORWARDED_FOR": "", "HTTP_X_FORWARDED_HOST": "evil.example/path x"},
        {"HTTP_X_FORWARDED_FOR": ",,,", "HTTP_X_FORWARDED_PORT": "99999"},
        {"HTTP_X_FORWARDED_HOST": "", "HTTP_X_FORWARDED_PORT": "-1"},
    ],
)
def test_malformed_x_forwarded_changes_nothing(headers: dict[str, object]) -> None:
    env = _fix(headers, forwarded_fields=FIELDS)
    assert _seen(env) == ("127.0.0.1", "http", "example.com", "0.0.0.0", "8000")


def test_untrusted_peer_nothing_applied_nothing_removed() -> None:
    env = _fix({**SPOOFED, "REMOTE_ADDR": "198.51.100.9"}, forwarded_fields=FIELDS)
    assert _seen(env) == ("198.51.100.9", "http", "example.com", "0.0.0.0", "8000")
    assert env.keys() >= FORWARDING_KEYS and "sockweb.proxy.original" not in env


def test_none_family_and_no_trusted_peer_install_no_fixer() -> None:
    assert ProxyFixer.from_config(Config(forwarded_headers="none")) is None
    assert ProxyFixer.from_config(Config(forwarded_allow_ips=())) is None
    with pytest.raises(ValueError, match="expected one of"):
        ProxyFixer(AllowList(["127.0.0.1"]), "x-real-ip")


def test_settings_are_validated_and_match_the_rule(tmp_path: Path) -> None:
    (families,) = [
        f.metadata["sockweb"]["choices"] for f in dataclasses.fields(Config) if f.name == "forwarded_headers"
    ]
    assert families == FAMILIES
    assert check_fields([" For", "PROTO"]) == ("for", "proto")
    config = load_config(
        ["app:x", "--forwarded-headers", "forwarded", "--forwarded-fields", "for,host"],
        environ={},
        cwd=tmp_path,
    )
    assert (config.forwarded_headers, config.forwarded_fields) == ("forwarded", ("for", "host"))
    with pytest.raises(ConfigError, match=r"--forwarded-fields.*'path'"):
        load_config(["app:x", "--forwarded-fields", "for,path"], environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="--forwarded-headers"):
        load_config(["app:x", "--forwarded-headers", "x-real-ip"], environ={}, cwd=tmp_path)


def test_a_none_fixer_neither_applies_nor_removes() -> None:
    fixer = ProxyFixer(AllowList(["127.0.0.1"]), "none", FIELDS)
    env: dict[str, object] = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", **SPOOFED}
    fixer.apply(env)
    assert env == {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", **SPOOFED}
