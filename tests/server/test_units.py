"""Unit tests of the pieces that need no socket: the loader, the streaming input, the environ, the pool."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from sockweb.http import RequestParser
from sockweb.server.dispatch import AutoPolicy, ThreadPool
from sockweb.server.input import ClientDisconnected, StreamInput
from sockweb.server.loader import AppLoadError, load_app
from sockweb.server.wsgi import build_environ, environ_template, new_header_keys

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("swmod_")]:
        del sys.modules[name]


def test_loader_forms(module_dir):
    (module_dir / "swmod_a.py").write_text(
        "def app(e, s): return []\ndef make(): return app\nclass Box:\n    inner = staticmethod(app)\n"
    )
    import swmod_a

    assert load_app("swmod_a:app") is swmod_a.app
    assert load_app("swmod_a") is swmod_a.app
    assert load_app("swmod_a:make()") is swmod_a.app
    assert load_app("swmod_a:make", factory=True) is swmod_a.app
    assert load_app("swmod_a:Box.inner") is swmod_a.app


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("swmod_missing:app", "no module named 'swmod_missing'"),
        ("swmod_b:nope", "has no attribute 'nope'"),
        ("swmod_b:value", "is not callable"),
        ("swmod_b:make(1)", "takes no arguments"),
        (":app", "expected MODULE:NAME"),
    ],
)
def test_loader_errors_are_one_line(module_dir, spec, message):
    (module_dir / "swmod_b.py").write_text("value = 3\ndef make(): return 1\n")
    with pytest.raises(AppLoadError) as info:
        load_app(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_loader_summarises_import_time_error(module_dir):
    (module_dir / "swmod_c.py").write_text("import os\n\nraise KeyError('DATABASE_URL')\n")
    with pytest.raises(AppLoadError, match=r"KeyError: 'DATABASE_URL' \(.*swmod_c.py:3\)"):
        load_app("swmod_c:app")


def _input(high=100, low=10):
    calls = []
    stream = StreamInput(high, low, lambda: calls.append("continue"), lambda: calls.append("resume"))
    return stream, calls


def test_stream_input_reads_bounded_by_body():
    stream, calls = _input()
    assert stream.feed(b"hello\nwor") is False
    stream.feed(b"ld\nlast")
    stream.finish()
    assert stream.read(3) == b"hel"
    assert stream.readline() == b"lo\n"
    assert stream.readline(2) == b"wo"
    assert list(stream) == [b"rld\n", b"last"]
    assert stream.read() == b"" and stream.readline() == b""
    assert calls == ["continue"]  # sent once, on the first read


def test_stream_input_blocks_until_fed_and_signals_backpressure():
    stream, calls = _input(high=8, low=4)
    assert stream.feed(b"0123456789") is True  # above the high-water mark: the loop pauses reading
    assert stream.read(7) == b"0123456"
    assert calls == ["continue", "resume"]  # drained below the low-water mark: the loop resumes
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.read()))
    reader.start()
    reader.join(0.05)
    assert reader.is_alive()  # blocked: the body is not complete
    stream.feed(b"ab")
    stream.finish()
    reader.join(10)
    assert got == [b"789ab"]


def test_stream_input_readlines_hint_and_abort():
    stream, _ = _input()
    stream.feed(b"a\nb\nc\n")
    assert stream.readlines(3) == [b"a\n", b"b\n"]  # io semantics: stop once the total reaches hint
    stream.abort()
    assert stream.readline() == b"c\n"
    with pytest.raises(ClientDisconnected):
        stream.read(1)


def _environ(raw: bytes):
    parser = RequestParser()
    parser.feed(raw)
    req = parser.next_event()
    template = environ_template("127.0.0.1", "8000", "http", True)
    return build_environ(template, new_header_keys(), req, "10.0.0.1", "5555")


def test_environ_from_request():
    env = _environ(
        b"GET http://example.com/a%20b%FF/c?x=%41&y HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 0\r\nX-A: 2\r\n\r\n"
    )
    assert env["PATH_INFO"] == "/a b\xff/c"
    assert env["QUERY_STRING"] == "x=%41&y"
    assert env["SCRIPT_NAME"] == ""
    assert env["HTTP_X_A"] == "1, 2"
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "0"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("10.0.0.1", "5555")
    assert env["wsgi.version"] == (1, 0) and env["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_environ_calls_the_proxy_fixer_only_for_forwarding_headers():
    class Recorder:
        def __init__(self) -> None:
            self.seen: list[str | None] = []

        def apply(self, environ) -> None:
            self.seen.append(environ.get("HTTP_X_FORWARDED_FOR"))

    proxy = Recorder()
    keys = new_header_keys()
    template = environ_template("127.0.0.1", "8000", "http", True)
    heads = [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n",
        # The same name again (a cached name would not be seen), then another spelling of it.
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=1.1.1.1\r\n\r\n",
    ]
    for raw in heads:
        parser = RequestParser()
        parser.feed(raw)
        env = build_environ(template, keys, parser.next_event(), "127.0.0.1", "5555", proxy)  # type: ignore[arg-type]
        assert env["wsgi.input"].read() == b""
    assert proxy.seen == ["1.2.3.4", "5.6.7.8", None]
    assert b"x-a" in keys and b"x-forwarded-for" not in keys and b"forwarded" not in keys


def test_thread_pool_grows_to_its_bound():
    pool = ThreadPool(3, name="t-pool")
    gate = threading.Event()
    done = threading.Semaphore(0)
    names = set()

    def job():
        names.add(threading.current_thread().name)
        gate.wait(10)
        done.release()

    for _ in range(6):
        pool.submit(job)
    assert pool.size == 3
    gate.set()
    for _ in range(6):
        assert done.acquire(timeout=10)
    pool.shutdown()
    assert names <= {"t-pool-0", "t-pool-1", "t-pool-2"}


def test_a_burst_of_jobs_gets_a_thread_each():
    """Jobs queued in a burst while the idle threads cannot run yet (the loop holds the GIL: here a long
    switch interval) each get a thread, instead of all waiting for the same few idle ones."""
    pool = ThreadPool(8, name="t-burst")
    warm = threading.Barrier(3, timeout=10)
    for _ in range(2):
        pool.submit(warm.wait)
    warm.wait()
    deadline = time.monotonic() + 10
    while pool._idle < 2 and time.monotonic() < deadline:  # both threads back to waiting for a job
        time.sleep(0.01)
    burst = threading.Barrier(8, timeout=5)
    results: list[bool] = []
    done = threading.Semaphore(0)

    def job():
        try:
            burst.wait()
            results.append(True)
        except threading.BrokenBarrierError:
            results.append(False)
        done.release()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        for _ in range(8):
            pool.submit(job)
    finally:
        sys.setswitchinterval(interval)
    for _ in range(8):
        assert done.acquire(timeout=30)
    pool.shutdown()
    assert results == [True] * 8 and pool.size == 0


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this OS")
def test_pool_threads_do_not_preempt_the_loop_thread():
    pool = ThreadPool(1, name="t-batch")
    policies: list[int] = []
    done = threading.Event()
    pool.submit(lambda: (policies.append(os.sched_getscheduler(0)), done.set()))
    assert done.wait(10)
    pool.shutdown()
    assert policies == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the calling (loop) thread is left as it was


def test_auto_policy_distinguishes_waiting_from_computing():
    policy = AutoPolicy()
    policy.slow_call()
    for _ in range(3):
        policy.checked_call(wall=0.02, cpu=0.0199, now=0.0)  # busy on the CPU: stay inline
    assert policy.inline
    policy.slow_call()
    for _ in range(3):  # waited, but never gave up the CPU itself: preempted by other processes
        policy.checked_call(wall=0.011, cpu=0.0001, now=1.0, voluntary=0)
    assert policy.inline
    policy.slow_call()
    policy.checked_call(wall=0.011, cpu=0.0001, now=1.0)
    assert policy.inline  # one wait could be preemption
    policy.checked_call(wall=0.011, cpu=0.0001, now=1.0)
    assert not policy.inline
    policy.tick(now=3.0)
    assert not policy.inline
    policy.tick(now=7.0)
    assert policy.inline and policy.checking


def test_stream_input_read_n_returns_n_unless_the_body_ends():
    stream = StreamInput.complete_body([b"ab", b"cde", b"f"])
    assert stream.read(4) == b"abcd"
    assert stream.read(10) == b"ef"
    assert stream.read(1) == b""
    stream = StreamInput.complete_body([b"x\ny", b"z\n", b"w"])
    assert list(stream) == [b"x\n", b"yz\n", b"w"]


def test_voluntary_switches_counts_sleeps():
    from sockweb.server.dispatch import voluntary_switches

    before = voluntary_switches()
    if before < 0:
        pytest.skip("no per-thread rusage on this OS")
    threading.Event().wait(0.01)
    assert voluntary_switches() > before
