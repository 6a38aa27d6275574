"""Where the application runs: a bounded thread pool that grows with demand, and the "auto" policy.

Strategy:
- `ThreadPool` starts no thread; `submit` starts one only when no thread is idle and the bound is not
  reached. Idle threads block in ``SimpleQueue.get`` (a C-level lock wait): they hold no GIL and cost
  nothing while the loop is busy.
- On Linux the pool's threads run under ``SCHED_BATCH``: a thread that wakes up (a job was queued, its
  application's sleep or socket read is over) does not preempt the loop thread on the same core. Woken
  early, it would only run into the GIL the loop holds and block again: two wasted context switches per
  wake-up, which were most of the cost of a blocking application. It runs once the loop waits for I/O
  (and releases the GIL), or at the end of the loop's time slice; the kernel still shares the CPU fairly.
- `AutoPolicy` (``dispatch = "auto"``) starts inline -- the application is called on the loop thread, no
  handoff at all, which is fastest for CPU-only applications. Each inline call is timed (one
  perf_counter pair). A call slower than `SLOW_CALL` (1 ms) puts the policy on watch: the next
  `CHECK_CALLS` calls also measure the thread's CPU time; when `BLOCKED_CALLS` of them spent more than
  1 ms *waiting* (wall time minus CPU time: sleep, socket, database) new requests move to the pool, so a
  blocking application does not stall every other connection. Waiting means the thread gave up the
  CPU itself (a voluntary context switch, from ``getrusage(RUSAGE_THREAD)`` where Linux has it): on a
  busy machine the scheduler also preempts the loop thread in the middle of fast calls, and that is not
  a reason to move to threads. Two such calls, not one, for the same reason where the count is
  unavailable. A slow
  call that was busy on the CPU (a cold first request, a big template) keeps the policy inline: threads
  would not make it faster under the GIL. Every `PROBE_INTERVAL` seconds the policy tries inline again,
  on watch, so an application that stopped blocking (a warm cache) comes back to the fast path.
- The server's own threads (this pool's, the status listener's, the metrics publisher's) block the
  signals that steer the process (:func:`leave_signals_to_the_main_thread`): the kernel delivers those
  to the main thread, where Python runs their handlers anyway, and one that the main thread holds back
  for a moment (the execve of a reload) stays pending instead of taking its default action in a thread.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from queue import SimpleQueue

log = logging.getLogger("sockweb.error")

try:
    import resource
except ImportError:  # not a POSIX system (Windows): no per-thread counts, voluntary_switches() says -1
    _RUSAGE_THREAD: int | None = None
else:
    _RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)
_SCHED_BATCH: int | None = getattr(os, "SCHED_BATCH", None)

# The signals a server process is steered by (stop, reload, logs, worker count, children): the master
# handles each of them, and the server's own threads leave them to the main thread. Not the ones a thread
# raises for itself (SIGSEGV, SIGFPE, SIGABRT from abort()), which it must keep.
STEERING_SIGNALS: frozenset[int] = frozenset(
    getattr(signal, name)
    for name in (
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGTERM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGTTIN",
        "SIGTTOU",
        "SIGWINCH",
        "SIGCHLD",
    )
    if hasattr(signal, name)
)

SLOW_CALL = 0.001
CHECK_CALLS = 3
BLOCKED_CALLS = 2
PROBE_INTERVAL = 5.0
DEFAULT_THREADS = 192


class ThreadPool:
    """A pool of at most `max_threads` daemon threads running submitted callables in FIFO order."""

    __slots__ = ("_idle", "_lock", "_max", "_name", "_queue", "_threads")

    def __init__(self, max_threads: int, name: str = "sockweb-app") -> None:
        self._max = max(1, max_threads)
        self._name = name
        self._queue: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._threads)

    @property
    def queued(self) -> int:
        """Jobs waiting for a thread (approximate, read from any thread)."""
        return self._queue.qsize()

    def submit(self, job: Callable[[], None]) -> None:
        # Each job claims an idle thread here, when it is queued, not when that thread wakes up: a burst
        # (the streams of one HTTP/2 read) would otherwise see the same idle threads again and again
        # while the loop holds the GIL, and queue behind them instead of starting the threads it needs.
        with self._lock:
            if self._idle:
                self._idle -= 1
                start = False
            else:
                start = len(self._threads) < self._max
        self._queue.put(job)
        if start:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        leave_signals_to_the_main_thread()
        batch_scheduling()
        get = self._queue.get
        lock = self._lock
        while True:
            job = get()  # a new thread takes the job that started it; the others, the one that claimed them
            if job is None:
                return
            try:
                job()
            except BaseException:  # a job handles its own errors; this is the last line of defence
                log.exception("Unhandled error in a worker thread")
            with lock:
                self._idle += 1

    def shutdown(self, timeout: float = 1.0) -> None:
        """Ask every thread to exit and wait up to `timeout` in total (stuck ones are daemons)."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = timeout / max(1, len(self._threads))
        for thread in self._threads:
            thread.join(deadline)
        self._threads.clear()


class AutoPolicy:
    """Decide per request whether to call the application inline; see the module docstring."""

    __slots__ = ("blocked", "checking", "inline", "switched_at")

    def __init__(self) -> None:
        self.inline = True
        self.checking = 0  # calls left to measure CPU time for
        self.blocked = 0  # measured calls that waited
        self.switched_at = 0.0

    def slow_call(self) -> None:
        """An unmeasured inline call was slow: measure the next few."""
        self.checking = CHECK_CALLS
        self.blocked = 0

    def checked_call(self, wall: float, cpu: float, now: float, voluntary: int = -1) -> None:
        """A measured inline call took `wall` seconds, `cpu` of them on the CPU, and gave up the CPU
        `voluntary` times (-1: unknown)."""
        self.checking -= 1
        if wall - cpu > SLOW_CALL and voluntary != 0:
            self.blocked += 1
            if self.blocked >= BLOCKED_CALLS:
                self.inline = False
                self.checking = 0
                self.switched_at = now

    def tick(self, now: float) -> None:
        if not self.inline and now - self.switched_at >= PROBE_INTERVAL:
            self.inline = True
            self.slow_call()


def leave_signals_to_the_main_thread() -> None:
    """Block the process's steering signals in the calling thread (a thread the server starts), so that
    they reach the main thread; a no-op where the OS has no per-thread signal mask."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STEERING_SIGNALS)


def batch_scheduling() -> None:
    """Put the calling thread under SCHED_BATCH (no wake-up preemption) where the OS has it, unless the
    thread runs under another policy than the normal one (a real-time one is left alone)."""
    if _SCHED_BATCH is None:
        return
    try:
        if os.sched_getscheduler(0) == os.SCHED_OTHER:
            os.sched_setscheduler(0, _SCHED_BATCH, os.sched_param(0))
    except OSError:  # not permitted here (a sandbox): keep the normal policy
        pass


def voluntary_switches() -> int:
    """Voluntary context switches of the calling thread so far; -1 where the OS does not say."""
    if _RUSAGE_THREAD is None:
        return -1
    return resource.getrusage(_RUSAGE_THREAD).ru_nvcsw
