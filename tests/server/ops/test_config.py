"""The settings table: sources and precedence, validation messages, --print-config, --check-config, docs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from sockweb.http import Limits
from sockweb.server.config import SETTINGS, Config, ConfigError, load_config, render_markdown, render_toml

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_match_the_contract() -> None:
    config = Config()
    assert config.bind == ("127.0.0.1:8000",)
    assert config.workers == 1 and config.keepalive_timeout == 5 and config.header_timeout == 10
    assert config.graceful_timeout == 30 and config.server_header == "sockweb"
    assert config.access_log is None and config.access_log_format == "combined"


def test_every_field_is_a_setting_with_help_and_section() -> None:
    names = {f.name for f in dataclasses.fields(Config)}
    assert names == {s.name for s in SETTINGS}
    for spec in SETTINGS:
        assert spec.help and spec.section
        assert spec.env is None or spec.env == "SOCKWEB_" + spec.name.upper()


def test_precedence_cli_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sockweb]\nworkers = 3\ntimeout = 7\nbacklog = 100\nbind = ["127.0.0.1:9001"]\n'
    )
    env = {"SOCKWEB_WORKERS": "4", "SOCKWEB_TIMEOUT": "8"}
    config = load_config(["app:x", "--workers", "5"], env, tmp_path)
    assert config.workers == 5  # CLI
    assert config.timeout == 8  # env
    assert config.backlog == 100  # file
    assert config.bind == ("127.0.0.1:9001",)
    assert config.keepalive_timeout == 5  # default
    assert config.app == "app:x"


def test_explicit_config_file_replaces_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sockweb]\nworkers = 3\n")
    (tmp_path / "sockweb.toml").write_text('app = "pkg:app"\nmax-requests = 10\n')
    config = load_config(["--config", "sockweb.toml"], {}, tmp_path)
    assert (config.app, config.max_requests, config.workers) == ("pkg:app", 10, 1)
    config = load_config([], {"SOCKWEB_CONFIG": "sockweb.toml"}, tmp_path)
    assert config.max_requests == 10


def test_list_and_bool_settings(tmp_path: Path) -> None:
    config = load_config(
        ["-b", "127.0.0.1:1", "--bind", "unix:/tmp/s", "--preload", "--no-reuse-port"], {}, tmp_path
    )
    assert config.bind == ("127.0.0.1:1", "unix:/tmp/s") and config.preload and not config.reuse_port
    config = load_config(
        [], {"SOCKWEB_FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.168.1.1", "SOCKWEB_PRELOAD": "yes"}, tmp_path
    )
    assert config.forwarded_allow_ips == ("10.0.0.0/8", "192.168.1.1") and config.preload
    assert load_config(["--workers", "auto"], {}, tmp_path).workers >= 1
    assert load_config(["--umask", "007"], {}, tmp_path).umask == 0o007


def test_protocol_settings_default_to_the_parser_limits_and_load_from_every_source(tmp_path: Path) -> None:
    defaults, limits = Config(), Limits()
    assert defaults.body_timeout == 60
    assert (defaults.max_chunk_ext, defaults.max_trailer_size) == (
        limits.max_chunk_ext,
        limits.max_trailer_size,
    )
    assert defaults.allow_underscore_headers is limits.allow_underscore_in_names is False
    argv = ["--body-timeout", "1.5", "--max-chunk-ext", "10", "--allow-underscore-headers"]
    config = load_config(argv, {"SOCKWEB_MAX_TRAILER_SIZE": "20"}, tmp_path)
    assert (config.body_timeout, config.max_chunk_ext, config.max_trailer_size) == (1.5, 10, 20)
    assert config.allow_underscore_headers
    (tmp_path / "sockweb.toml").write_text("body-timeout = 3\nallow-underscore-headers = true\n")
    config = load_config(["--config", "sockweb.toml", "--no-allow-underscore-headers"], {}, tmp_path)
    assert config.body_timeout == 3 and not config.allow_underscore_headers


BIND_SYNTAX = "expected HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--workers", "x"], {}, "--workers: expected a positive integer or 'auto', got 'x'"),
        ([], {"SOCKWEB_WORKERS": "0"}, "SOCKWEB_WORKERS: expected a positive integer or 'auto', got '0'"),
        (["--dispatch", "fast"], {}, "--dispatch: expected one of 'auto', 'pool', 'inline', got 'fast'"),
        (["--timeout", "-1"], {}, "--timeout: expected a positive number, got '-1'"),
        (["--umask", "999"], {}, "--umask: expected an octal mode between 000 and 777 (e.g. 022), got '999'"),
        ([], {"SOCKWEB_PRELOAD": "maybe"}, "SOCKWEB_PRELOAD: expected true or false"),
        (["--forwarded-allow-ips", "10.0.0.300"], {}, "--forwarded-allow-ips: expected IP addresses"),
        (["--access-log-format", "%(zz)s"], {}, "--access-log-format: expected 'combined', 'common', 'json'"),
        (["--keyfile", "k.pem"], {}, "--keyfile: expected --certfile too"),
        (["--bind", "garbage"], {}, f"--bind: {BIND_SYNTAX}, got 'garbage'"),
        (["-b", "127.0.0.1:8000", "-b", "unix:"], {}, "--bind: expected unix:PATH with a non-empty PATH"),
        ([], {"SOCKWEB_BIND": "garbage"}, f"SOCKWEB_BIND: {BIND_SYNTAX}, got 'garbage'"),
        ([], {"SOCKWEB_BIND": "127.0.0.1:8000,[::1]:99999"}, "SOCKWEB_BIND: expected a port number"),
        (["--body-timeout", "0"], {}, "--body-timeout: expected a positive number, got '0'"),
        ([], {"SOCKWEB_BODY_TIMEOUT": "soon"}, "SOCKWEB_BODY_TIMEOUT: expected a number, got 'soon'"),
        (["--max-chunk-ext", "0"], {}, "--max-chunk-ext: expected a positive number, got '0'"),
        (["--max-trailer-size", "-5"], {}, "--max-trailer-size: expected a positive number, got '-5'"),
        (
            [],
            {"SOCKWEB_ALLOW_UNDERSCORE_HEADERS": "maybe"},
            "SOCKWEB_ALLOW_UNDERSCORE_HEADERS: expected true",
        ),
        (["--no-such-option"], {}, "unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_values_give_one_line_naming_the_setting(
    tmp_path: Path, argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(argv, env, tmp_path)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sockweb]\nworkers = "many"\n')
    with pytest.raises(
        ConfigError, match=r"^workers in pyproject.toml \[tool.sockweb\]: expected a positive"
    ):
        load_config([], {}, tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.sockweb]\nbind = ["127.0.0.1:8000", "garbage"]\n')
    with pytest.raises(ConfigError) as info:
        load_config([], {}, tmp_path)
    assert str(info.value) == f"bind in pyproject.toml [tool.sockweb]: {BIND_SYNTAX}, got 'garbage'"
    (tmp_path / "sockweb.toml").write_text('bind = "fd://x"\n')
    with pytest.raises(ConfigError, match=r"^bind in sockweb\.toml: expected fd://N .*, got 'fd://x'$"):
        load_config(["--config", "sockweb.toml"], {}, tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.sockweb]\nwrokers = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'wrokers'"):
        load_config([], {}, tmp_path)
    (tmp_path / "bad.toml").write_text("workers = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_config(["--config", "bad.toml"], {}, tmp_path)
    with pytest.raises(ConfigError, match="--config: no such file"):
        load_config(["--config", "missing.toml"], {}, tmp_path)


def test_print_config_round_trips(tmp_path: Path) -> None:
    config = load_config(
        [
            "app:x",
            "-w",
            "3",
            "-b",
            "127.0.0.1:1",
            "-b",
            "[::1]:2",
            "--server-header",
            'a "b" \\ c',
            "--umask",
            "027",
        ],
        {"SOCKWEB_ACCESS_LOG": "-"},
        tmp_path,
    )
    (tmp_path / "printed.toml").write_text(render_toml(config))
    again = load_config(["--config", "printed.toml"], {}, tmp_path)
    assert dataclasses.replace(again, config=None) == config


def _sockweb(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("SOCKWEB_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sockweb", "serve", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_print_config_and_errors(tmp_path: Path) -> None:
    proc = _sockweb("app:x", "--print-config", "--workers", "2", cwd=tmp_path, env={"SOCKWEB_TIMEOUT": "9"})
    assert proc.returncode == 0, proc.stderr
    assert "workers = 2\n" in proc.stdout and "timeout = 9.0\n" in proc.stdout
    proc = _sockweb("app:x", "--workers", "x", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "sockweb serve: --workers: expected a positive integer or 'auto', got 'x'"
    proc = _sockweb(cwd=tmp_path)
    assert proc.returncode == 2 and "missing MODULE:APP" in proc.stderr
    proc = _sockweb("app:app", "--bind", "garbage", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"sockweb serve: --bind: {BIND_SYNTAX}, got 'garbage'\n"
    proc = _sockweb("app:app", cwd=tmp_path, env={"SOCKWEB_BIND": "garbage"})
    assert proc.returncode == 2
    assert proc.stderr == f"sockweb serve: SOCKWEB_BIND: {BIND_SYNTAX}, got 'garbage'\n"


def test_check_config(app_dir: Path) -> None:
    proc = _sockweb("opsapp:app", "--check-config", cwd=app_dir)
    assert proc.returncode == 0, proc.stderr
    assert "configuration OK" in proc.stdout
    proc = _sockweb("opsapp:nothing", "--check-config", cwd=app_dir)
    assert proc.returncode == 1 and "nothing" in proc.stderr
    proc = _sockweb("opsapp:app", "--check-config", "--bind", "localhost:http", cwd=app_dir)
    assert proc.returncode == 2 and "--bind: expected a port number" in proc.stderr
    proc = _sockweb("opsapp:app", "--check-config", "--certfile", "missing.pem", cwd=app_dir)
    assert proc.returncode == 1 and "--certfile: cannot read 'missing.pem'" in proc.stderr


def test_settings_doc_is_up_to_date() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), (
        "docs/settings.md is stale: run `python -m sockweb.server.config --markdown > docs/settings.md`"
    )


def test_settings_doc_lists_every_setting() -> None:
    doc = render_markdown()
    for spec in SETTINGS:
        assert f"### `{spec.name}`" in doc
        if spec.env:
            assert f"`{spec.env}`" in doc
