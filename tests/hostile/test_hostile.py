"""The quick hostile-client suite against a real sockweb subprocess (bench/hostile, in --quick sizes).

Each test runs one attack on a fresh server on 127.0.0.1 and asserts the outcomes the server promises:
no hang, no desync, slow clients dropped while others are served, app faults answered 500 (or closed
when the head may be out) and logged, a bounded log and an idle CPU when descriptors run out, and no
debugger page or dotfile for a client that should not see them. The full-size run, next to gunicorn, is
``python bench/hostile/run.py`` (docs/reliability.md).
"""

from __future__ import annotations

import pytest
from hostile.apps import FAULTS
from hostile.suite import run_attack
from hostile.wire import Result

from hostile import fdlimit, slowread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def attack(name: str) -> Result:
    result = run_attack(name, "sockweb", quick=True)
    assert "server-died" not in result.counts, result.line()
    return result


def test_slowloris_is_dropped_and_others_are_served() -> None:
    result = attack("slowloris")
    assert result.counts["still-open"] == 0, result.line()  # every slow head dropped at the head timeout
    assert result.numbers["probes"] > 0 and result.numbers["probe_failures"] == 0, result.line()


def test_stalled_body_gets_408() -> None:
    result = attack("slowbody")
    # RFC 9110 §15.5.9: 408 when the server would not wait any longer for the request
    assert set(+result.counts) == {"408"}, result.line()


def test_slow_readers_are_dropped_on_every_response_shape() -> None:
    result = attack("slowread")
    per_shape = result.counts[f"{slowread.SHAPES[0]}-dropped"] + result.counts[f"{slowread.SHAPES[0]}-held"]
    for shape in slowread.SHAPES:
        assert result.counts[f"{shape}-dropped"] == per_shape, (shape, result.line())
    assert result.numbers["probe_failures"] == 0, result.line()


def test_fuzz_storm_never_hangs_or_fails() -> None:
    result = attack("fuzz")
    assert result.counts["hang"] == 0, result.line()
    assert result.counts["liveness-failed"] == 0, result.line()
    assert result.counts["500"] == 0 and result.counts["connect-failed"] == 0, result.line()


def test_smuggling_payloads_sent_directly_never_desync() -> None:
    result = attack("smuggling")
    assert result.counts["desync"] == 0, result.notes
    assert result.counts["backend-saw-smuggled"] == 0, result.line()


@pytest.mark.nginx
@pytest.mark.usefixtures("nginx_binary")
def test_smuggling_payloads_through_nginx_reach_the_app_only_as_forwarded() -> None:
    result = attack("smuggling-nginx")
    assert result.counts["unforwarded"] == 0, result.notes
    assert result.numbers["backend_requests"] > 0, result.line()


def test_app_faults_get_500_or_a_clean_close_and_the_server_keeps_serving() -> None:
    result = attack("faults")
    assert result.counts["ok"] == len(FAULTS), "\n".join([result.line(), *result.notes])


def test_fd_exhaustion_keeps_existing_connections_served_without_spinning() -> None:
    result = attack("fdlimit")
    assert result.counts["existing-failed"] == 0 and result.counts["after-failed"] == 0, result.line()
    assert result.numbers["log_bytes"] < 64 * 1024, result.line()  # not a line per failed accept()
    # a bound on spinning, not a speed check: a loop retrying accept() on EMFILE sits near 100%
    assert result.numbers["cpu_pct"] < 50, result.line()
    assert result.numbers["flood"] > fdlimit.NOFILE


def test_debugger_page_and_console_are_not_shown_to_non_local_clients() -> None:
    result = attack("debugger")
    assert result.counts["local-page"] == 1, result.line()  # the page exists, so hiding it means something
    assert result.counts["remote-page-shown"] == 0, result.notes
    assert result.counts["console-open"] == 0, result.notes


def test_static_does_not_serve_dotfiles() -> None:
    result = attack("static")
    assert result.counts["plain-file-served"] == 1, result.line()
    assert result.counts["dotfile-served"] == 0, result.notes
