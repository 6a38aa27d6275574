"""What a gunicorn user types: the shared short flags work, other spellings are answered with sockweb's,
and docs/migrating-from-gunicorn.md names every setting the table has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sockweb.server.config import GUNICORN_NAMES, SETTINGS, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "migrating-from-gunicorn.md"


def test_gunicorn_short_flags_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text("workers = 3\nmax_requests = 10\n")
    config = load_config(
        [
            *("x:app", "-c", "gunicorn.conf.py", "-t", "7", "-e", "A=1", "-e", "B=x=y", "-b", "127.0.0.1:9"),
            *("-w", "2", "-p", "run.pid", "-n", "shop", "--pythonpath", "src,lib"),
        ],
        {},
        tmp_path,
    )
    assert (config.workers, config.max_requests, config.timeout) == (2, 10, 7.0)
    assert config.env == ("A=1", "B=x=y") and config.pythonpath == ("src", "lib")
    assert (config.pid, config.proc_name, config.bind) == ("run.pid", "shop", ("127.0.0.1:9",))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--keep-alive", "5"], "--keep-alive (a gunicorn option): sockweb's is 'keepalive_timeout'"),
        (["--limit-request-field_size", "9"], "sockweb's is 'max_field_size' (--max-field-size)"),
        (["--limit-request-fields=9"], "sockweb's is 'max_header_count'"),
        (["-k", "gevent"], "-k (a gunicorn option): sockweb has no equivalent: there is one worker type"),
        (["--access-logfile", "-"], "sockweb's is 'access_log' (--access-log)"),
        (["-e", "NOEQUALS"], "--env: expected KEY=VALUE items, got 'NOEQUALS'"),
    ],
)
def test_gunicorn_options_are_answered(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["x:app", *argv], {}, tmp_path)
    assert message in str(info.value)


@pytest.mark.parametrize("suffix", ["toml", "py"])
def test_gunicorn_keys_in_a_config_file_are_answered(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"conf.{suffix}").write_text("keepalive = 5\n")
    with pytest.raises(
        ConfigError, match=r"'keepalive' \(a gunicorn setting\): sockweb's is 'keepalive_timeout'"
    ):
        load_config(["x:app", "-c", f"conf.{suffix}"], {}, tmp_path)
    (tmp_path / f"conf.{suffix}").write_text("limit_request_field_size = 5\n")
    with pytest.raises(ConfigError, match="sockweb's is 'max_field_size'"):
        load_config(["x:app", "-c", f"conf.{suffix}"], {}, tmp_path)


def test_the_guide_maps_every_answered_gunicorn_name_and_names_only_real_settings() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*?) \|", text, re.M)
    mapped = {name for name, _ in rows}
    assert set(GUNICORN_NAMES) - {"keep_alive", "access_logfile", "error_logfile"} <= mapped
    ours = {s.name for s in SETTINGS}
    for name, answer in rows:
        for setting in re.findall(r"`([a-z_]+)`", answer):
            assert setting in ours, f"the guide maps {name} to {setting!r}, which is not a setting"


# gunicorn's settings, by the names its config file uses (its settings reference, 23.x).
_GUNICORN_WORDS = """
config wsgi_app reload reload_engine reload_extra_files spew check_config print_config
accesslog disable_redirect_access_to_syslog access_log_format errorlog loglevel capture_output logger_class
logconfig logconfig_dict logconfig_json syslog_addr syslog syslog_prefix syslog_facility
enable_stdio_inheritance statsd_host dogstatsd_tags statsd_prefix proc_name default_proc_name
keyfile certfile ssl_version cert_reqs ca_certs suppress_ragged_eofs do_handshake_on_connect ciphers
limit_request_line limit_request_fields limit_request_field_size
on_starting on_reload when_ready pre_fork post_fork post_worker_init worker_int worker_abort pre_exec
pre_request post_request child_exit worker_exit nworkers_changed on_exit ssl_context
preload_app sendfile reuse_port chdir daemon raw_env pidfile worker_tmp_dir user group umask initgroups
tmp_upload_dir secure_scheme_headers forwarded_allow_ips pythonpath paste proxy_protocol proxy_allow_ips
raw_paste_global_conf permit_obsolete_folding strip_header_spaces permit_unconventional_http_method
permit_unconventional_http_version casefold_http_method forwarder_headers header_map
tolerate_dangerous_framing bind backlog workers worker_class threads worker_connections max_requests
max_requests_jitter timeout graceful_timeout keepalive
"""
GUNICORN_SETTINGS = _GUNICORN_WORDS.split()


def test_the_guide_has_a_row_for_every_gunicorn_setting() -> None:
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", GUIDE.read_text(encoding="utf-8"), re.M))
    assert sorted(set(GUNICORN_SETTINGS) - rows) == []
