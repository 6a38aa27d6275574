"""Server hooks from a Python config file, called by a real server: each hook at its moment, with
sockweb's own argument objects; a failing hook is logged, or stops start-up where documented."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ops_helpers import wait_until

pytestmark = pytest.mark.timeout(90)

# Every hook appends one JSON line (its name and what its arguments say) to hooks.log.
HOOKS = """
import json, os

workers = 2

def _note(name, **info):
    with open("hooks.log", "a") as fh:
        fh.write(json.dumps({"hook": name, "pid": os.getpid(), **info}) + "\\n")

def on_starting(server):
    _note("on_starting", mode=server.mode, server_pid=server.pid, workers=server.workers)

def when_ready(server):
    _note("when_ready", mode=server.mode)

def pre_fork(server, worker):
    _note("pre_fork", worker_pid=worker.pid, slot=worker.slot)

def post_fork(server, worker):
    _note("post_fork", worker_pid=worker.pid, slot=worker.slot, server_pid=server.pid)

def post_worker_init(worker):
    _note("post_worker_init", worker_pid=worker.pid)

def worker_int(worker):
    _note("worker_int", worker_pid=worker.pid)

def worker_exit(server, worker):
    _note("worker_exit", worker_pid=worker.pid)

def pre_request(worker, req):
    req.extra["seen"] = True
    _note("pre_request", method=req.method, path=req.path, uri=req.uri,
          agent=dict(req.headers).get("user-agent"), worker_pid=worker.pid)

def post_request(worker, req, environ, resp):
    _note("post_request", path=req.path, status=resp.status_code, sent=resp.sent,
          seen=req.extra.get("seen"), environ_path=environ["PATH_INFO"])

def child_exit(server, worker):
    _note("child_exit", worker_pid=worker.pid, code=worker.exit_code)

def on_exit(server):
    _note("on_exit")

def nworkers_changed(server, new_value, old_value):
    _note("nworkers_changed", new=new_value, old=old_value)

def on_reload(server):
    _note("on_reload")
"""


def _calls(app_dir: Path) -> list[dict[str, object]]:
    path = app_dir / "hooks.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _named(app_dir: Path, name: str) -> list[dict[str, object]]:
    return [c for c in _calls(app_dir) if c["hook"] == name]


def _get(server, path: str) -> int:  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"User-Agent": "hook-test"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_every_hook_of_the_arbiter_and_its_workers(serve, app_dir: Path) -> None:
    (app_dir / "sockweb.conf.py").write_text(HOOKS)
    server = serve("-c", "sockweb.conf.py", "--graceful-timeout", "5")
    wait_until(lambda: len(_named(app_dir, "post_worker_init")) == 2, 15, "2 workers initialised")
    calls = _calls(app_dir)
    names = [c["hook"] for c in calls]
    assert names[:2] == ["on_starting", "nworkers_changed"]
    assert calls[0]["mode"] == "master" and calls[0]["workers"] == 2 and calls[0]["pid"] == server.pid
    assert calls[1]["new"] == 2 and calls[1]["old"] is None
    assert "when_ready" in names
    # pre_fork in the master (no pid yet), post_fork in each child (its own pid, the master's pid)
    pre = _named(app_dir, "pre_fork")
    assert sorted(c["slot"] for c in pre) == [0, 1] and {c["worker_pid"] for c in pre} == {0}
    assert {c["pid"] for c in pre} == {server.pid}
    post = _named(app_dir, "post_fork")
    assert {c["worker_pid"] for c in post} == {c["pid"] for c in post} == server.workers()
    assert {c["server_pid"] for c in post} == {server.pid}

    assert _get(server, "/hello?x=1") == 200
    wait_until(lambda: _named(app_dir, "post_request"), 10, "post_request")
    (pre_req,) = _named(app_dir, "pre_request")
    assert pre_req["method"] == "GET" and pre_req["path"] == "/hello" and pre_req["uri"] == "/hello?x=1"
    assert pre_req["agent"] == "hook-test" and pre_req["worker_pid"] == pre_req["pid"]
    (post_req,) = _named(app_dir, "post_request")
    assert post_req["status"] == 200 and post_req["sent"] > 0 and post_req["seen"] is True
    assert post_req["environ_path"] == "/hello"

    server.send(signal.SIGTTIN)
    wait_until(lambda: len(_named(app_dir, "nworkers_changed")) == 2, 10, "nworkers_changed on TTIN")
    assert _named(app_dir, "nworkers_changed")[1] | {"pid": 0} == {
        "hook": "nworkers_changed",
        "pid": 0,
        "new": 3,
        "old": 2,
    }
    wait_until(lambda: len(_named(app_dir, "post_worker_init")) == 3, 15, "the third worker")
    server.send(signal.SIGHUP)
    wait_until(lambda: _named(app_dir, "on_reload"), 10, "on_reload")
    wait_until(lambda: len(_named(app_dir, "child_exit")) == 3, 20, "the old generation reaped")
    assert server.stop(signal.SIGTERM, timeout=20) == 0
    calls = _calls(app_dir)
    exits = _named(app_dir, "worker_exit")
    children = _named(app_dir, "child_exit")
    assert len(exits) == len(children) == 6
    assert {c["worker_pid"] for c in exits} == {c["worker_pid"] for c in children}
    assert {c["code"] for c in children} == {0}
    assert calls[-1]["hook"] == "on_exit" and calls[-1]["pid"] == server.pid


def test_single_process_hooks_and_worker_int(serve, app_dir: Path) -> None:
    (app_dir / "sockweb.conf.py").write_text(HOOKS.replace("workers = 2", "workers = 1"))
    server = serve("--config", "sockweb.conf.py")
    assert _get(server, "/one") == 200
    wait_until(lambda: _named(app_dir, "post_request"), 10, "post_request")
    server.send(signal.SIGHUP)
    wait_until(lambda: _named(app_dir, "on_reload"), 10, "on_reload")
    server.wait_for_log("Reload: serving the new code", timeout=30)
    server.send(signal.SIGINT)
    assert server.proc.wait(20) == 0
    names = [c["hook"] for c in _calls(app_dir)]
    # The single process is its own worker; the master-only hooks are not called. The reload's processes
    # (the bridge, then this pid re-executed) run their own start-up and exit hooks.
    for absent in ("pre_fork", "post_fork", "child_exit", "nworkers_changed"):
        assert absent not in names
    assert names[:3] == ["on_starting", "post_worker_init", "when_ready"]
    ours = [c["hook"] for c in _calls(app_dir) if c["pid"] == server.pid]
    assert ours[-3:] == ["worker_int", "worker_exit", "on_exit"]
    assert ours.count("on_starting") == 2  # the first image and the re-executed one
    assert _named(app_dir, "on_starting")[0]["mode"] == "single"


def test_worker_int_on_quit_and_worker_abort_on_timeout(serve, app_dir: Path) -> None:
    conf = (
        HOOKS
        + """
def worker_abort(worker):
    _note("worker_abort", worker_pid=worker.pid)
"""
    )
    (app_dir / "sockweb.conf.py").write_text(conf.replace("workers = 2", "workers = 1\nmax_requests = 100"))
    server = serve("-c", "sockweb.conf.py", "-t", "1")
    wait_until(lambda: _named(app_dir, "post_worker_init"), 15, "the worker")
    (first,) = server.workers()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("GET", "/slow?20")  # blocks the worker's loop: no heartbeat, SIGABRT after 1 s
    try:
        wait_until(lambda: _named(app_dir, "worker_abort"), 20, "worker_abort")
    finally:
        conn.close()
    assert _named(app_dir, "worker_abort")[0]["worker_pid"] == first
    server.wait_for_log(r"Faulthandler|Current thread|Thread 0x", timeout=10)
    wait_until(lambda: server.workers() - {first}, 15, "a new worker")
    wait_until(lambda: len(_named(app_dir, "post_worker_init")) == 2, 15, "the new worker")
    server.send(signal.SIGQUIT)
    assert server.proc.wait(20) == 0
    assert _named(app_dir, "worker_int"), server.log()
    (child,) = [c for c in _named(app_dir, "child_exit") if c["worker_pid"] == first]
    assert child["code"] == -signal.SIGABRT


FAILING = """
def {hook}({args}):
    raise RuntimeError("boom in {hook}")
"""


@pytest.mark.parametrize(
    ("hook", "args", "workers"),
    [
        ("on_starting", "server", 1),
        ("when_ready", "server", 1),
        ("on_starting", "server", 2),
        ("when_ready", "server", 2),
        ("post_fork", "server, worker", 2),
        ("post_worker_init", "worker", 2),
        ("post_worker_init", "worker", 1),
    ],
)
def test_a_failing_start_up_hook_stops_the_server(  # type: ignore[no-untyped-def]
    serve, app_dir: Path, hook: str, args: str, workers: int
) -> None:
    (app_dir / "sockweb.conf.py").write_text(FAILING.format(hook=hook, args=args))
    server = serve("-c", "sockweb.conf.py", "-w", str(workers), wait=False)
    assert server.proc.wait(30) == 1
    log = server.log()
    assert f"boom in {hook}" in log and f"Error in the {hook} hook" in log


def test_a_failing_request_hook_is_logged_and_the_request_served(serve, app_dir: Path) -> None:
    conf = FAILING.format(hook="pre_request", args="worker, req") + FAILING.format(
        hook="post_request", args="worker, req, environ, resp"
    )
    (app_dir / "sockweb.conf.py").write_text(conf)
    server = serve("-c", "sockweb.conf.py")
    assert _get(server, "/") == 200
    assert _get(server, "/") == 200
    server.wait_for_log("Error in the post_request hook", count=2)
    assert server.log().count("RuntimeError: boom in pre_request") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "def post_fork(server):\n    pass\n",
            "post_fork in sockweb.conf.py: expected a function taking (server, worker)",
        ),
        ("worker = 4\n", "unknown setting 'worker' (did you mean 'workers'?)"),
        ("keepalive = 5\n", "sockweb's is 'keepalive_timeout'"),
        ("on_starting = 3\n", "on_starting in sockweb.conf.py: expected a function"),
        ("workers = 'many'\n", "workers in sockweb.conf.py: expected a positive integer or 'auto'"),
        ("import nosuchmodule_x\n", "sockweb.conf.py: raised ModuleNotFoundError"),
        ("def f(:\n", "sockweb.conf.py: invalid Python, line 1"),
    ],
)
def test_python_config_file_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "sockweb.conf.py").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "sockweb", "serve", "x:app", "-c", "sockweb.conf.py", "--check-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_hooks_only_in_a_python_file(tmp_path: Path) -> None:
    from sockweb.server.config import ConfigError, load_config

    (tmp_path / "sockweb.toml").write_text('on_starting = "mod:fn"\n')
    with pytest.raises(ConfigError, match="is a server hook: define it as a function in a Python config"):
        load_config(["x:app", "-c", "sockweb.toml"], {}, tmp_path)
    with pytest.raises(ConfigError, match="unrecognized arguments: --on-starting"):
        load_config(["x:app", "--on-starting", "x"], {}, tmp_path)


def test_python_config_values_and_helpers(tmp_path: Path) -> None:
    from sockweb.server.config import ConfigWarning, load_config

    (tmp_path / "sockweb.conf.py").write_text(
        "import os\nfrom os import getcwd\n_private = 1\nbind = ['127.0.0.1:9000', '127.0.0.1:9001']\n"
        "timeout = 12\nmax_field_size = 100\ndef helper():\n    pass\ncpus = 3\n"
    )
    with pytest.warns(ConfigWarning) as record:
        config = load_config(["x:app", "-c", "sockweb.conf.py", "--timeout", "13"], {}, tmp_path)
    assert config.bind == ("127.0.0.1:9000", "127.0.0.1:9001") and config.max_field_size == 100
    assert config.timeout == 13  # the command line still wins
    warned = sorted(str(w.message) for w in record)
    assert warned == [
        "sockweb.conf.py: 'cpus' is not a setting: ignored",
        "sockweb.conf.py: 'getcwd' is not a setting: ignored",
        "sockweb.conf.py: 'helper' is not a setting: ignored",
    ]


SLOW_APP = """
import time

time.sleep(2)  # workers are still loading this when the test sends TERM


def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
"""


def test_a_worker_stopped_while_it_boots_exits_cleanly(serve, app_dir: Path) -> None:
    """A TERM that reaches a worker before it serves (its app still importing) ends it like any graceful
    stop: status 0 and its worker_exit hook, not the default action of the signal."""
    (app_dir / "slowapp.py").write_text(SLOW_APP)
    (app_dir / "sockweb.conf.py").write_text(HOOKS)
    server = serve("-c", "sockweb.conf.py", "--graceful-timeout", "5", app="slowapp:app", wait=False)
    wait_until(lambda: len(_named(app_dir, "post_fork")) == 2, 15, "2 workers forked")
    assert not _named(app_dir, "post_worker_init")  # still importing the app
    assert server.stop(signal.SIGTERM, timeout=20) == 0
    children = _named(app_dir, "child_exit")
    assert len(children) == 2 and {c["code"] for c in children} == {0}, children
    assert {c["worker_pid"] for c in _named(app_dir, "worker_exit")} == {c["worker_pid"] for c in children}
