"""Mounting under a prefix: the one rule (sockweb.server.mount) as --root-path and X-Forwarded-Prefix use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sockweb.server.config import Config, ConfigError, load_config
from sockweb.server.mount import check_prefix, mount
from sockweb.server.proxy import ProxyFixer


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        ("", ""),
        ("/", ""),
        ("/app", "/app"),
        ("/app/", "/app"),
        ("/a/b-c_d.e~", "/a/b-c_d.e~"),
        (" /x ", "/x"),
    ],
)
def test_valid_prefixes_are_normalised(raw: str, prefix: str) -> None:
    assert check_prefix(raw) == prefix


@pytest.mark.parametrize(
    "raw",
    [
        "app",
        "/app?x",
        "/app#x",
        "/a/../b",
        "/a/./b",
        "/a%2Fb",
        "/a b",
        "/a\r\nX: y",
        "//app",
        "/" + "a" * 2000,
    ],
)
def test_invalid_prefixes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="expected a path prefix"):
        check_prefix(raw)


@pytest.mark.parametrize(
    ("path", "script", "path_info"),
    [
        ("/app/x/y", "/app", "/x/y"),
        ("/app/", "/app", "/"),
        ("/app", "/app", ""),
        ("/apple", "/app", "/apple"),  # not at a segment boundary: served as is
        ("/x", "/app", "/x"),  # the proxy removed the prefix already
    ],
)
def test_mount_takes_the_prefix_off_path_info_only_at_a_segment_boundary(
    path: str, script: str, path_info: str
) -> None:
    environ = {"SCRIPT_NAME": "", "PATH_INFO": path}
    mount(environ, "/app")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script, path_info)


def test_root_path_setting_is_checked(tmp_path: Path) -> None:
    assert load_config(["x:app", "--root-path", "/app/"], {}, tmp_path).root_path == "/app"
    with pytest.raises(ConfigError, match=r"--root-path: expected a path prefix.*got '/a/\.\./b'"):
        load_config(["x:app", "--root-path", "/a/../b"], {}, tmp_path)


def _fixed(headers: dict[str, str], **settings: object) -> dict[str, object]:
    env: dict[str, object] = {
        "REMOTE_ADDR": "127.0.0.1",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/app/page",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "example.com",
        **headers,
    }
    fixer = ProxyFixer.from_config(Config(**settings))  # type: ignore[arg-type]
    assert fixer is not None
    fixer.apply(env)
    return env


def test_x_forwarded_prefix_mounts_only_when_selected_and_trusted() -> None:
    sent = {"HTTP_X_FORWARDED_PREFIX": "/app", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    env = _fixed(sent, forwarded_fields=("for", "prefix"))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/page")
    original = env["sockweb.proxy.original"]
    assert isinstance(original, dict) and original["PATH_INFO"] == "/app/page"
    # Off by default: the header is removed, nothing is mounted.
    env = _fixed(sent)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/app/page")
    assert "HTTP_X_FORWARDED_PREFIX" not in env
    # An untrusted peer: nothing applied.
    env = _fixed({**sent, "REMOTE_ADDR": "198.51.100.1"}, forwarded_fields=("for", "prefix"))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/app/page")
    # The RFC 7239 family has no prefix parameter: selecting it there mounts nothing.
    env = _fixed(
        {"HTTP_FORWARDED": "for=1.2.3.4", **sent}, forwarded_headers="forwarded", forwarded_fields=("prefix",)
    )
    assert env["SCRIPT_NAME"] == "" and "HTTP_X_FORWARDED_PREFIX" not in env


@pytest.mark.parametrize("bad", ["/a/../admin", "app", "/a%2f", "/x?y"])
def test_an_invalid_forwarded_prefix_is_ignored(bad: str) -> None:
    env = _fixed({"HTTP_X_FORWARDED_PREFIX": bad}, forwarded_fields=("prefix",))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/app/page")
