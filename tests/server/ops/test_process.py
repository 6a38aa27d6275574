"""Process chores: --chdir, --user/--group, --pid, fast stop (INT/QUIT)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import HERE, children, wait_until

from sockweb.server.workers import PidFile, ProcessError, drop_privileges

pytestmark = pytest.mark.timeout(60)


def _uid_gid(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = next(line for line in status if line.startswith("Uid:")).split()[1]
    gid = next(line for line in status if line.startswith("Gid:")).split()[1]
    return int(uid), int(gid)


@pytest.fixture
def public_app_dir() -> Iterator[Path]:
    """An app directory an unprivileged user can read (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="sockweb-ops-"))
    path.chmod(0o755)
    shutil.copy(HERE / "opsapp.py", path / "opsapp.py")
    (path / "opsapp.py").chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_chdir_loads_the_app_from_there(serve, public_app_dir: Path) -> None:
    server = serve("--chdir", str(public_app_dir), "--workers", "2")
    assert server.get()["version"] == "one"
    assert server.stop() == 0


def _readable_by_others(path: str) -> bool:
    """Can an unprivileged user reach ``path`` (every parent searchable, the file readable)?"""
    parts = Path(path).resolve().parents
    return all(p.stat().st_mode & 0o001 for p in parts) and bool(Path(path).stat().st_mode & 0o004)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
@pytest.mark.skipif(
    not _readable_by_others(os.__file__) or not _readable_by_others(__file__),
    reason="this Python installation or checkout is not readable by an unprivileged user",
)
def test_user_and_group_are_dropped_after_binding(serve, public_app_dir: Path) -> None:
    server = serve("--chdir", str(public_app_dir), "--user", "nobody", "--group", "65534", "--workers", "2")
    assert server.get()["version"] == "one"
    wait_until(lambda: len(children(server.pid)) == 2, what="2 workers")
    for pid in (server.pid, *children(server.pid)):
        assert _uid_gid(pid) == (65534, 65534)
    assert server.stop() == 0


def test_unknown_user_is_one_line(serve) -> None:
    server = serve("--user", "no-such-user-here", wait=False)
    assert server.proc.wait(20) == 1
    assert "--user: no such user 'no-such-user-here'" in server.log()


def test_pid_file_of_a_running_server_is_not_clobbered(serve, app_dir: Path) -> None:
    first = serve("--pid", "app.pid")
    second = serve("--pid", "app.pid", wait=False)
    assert second.proc.wait(20) == 1
    assert "names a running process" in second.log()
    assert (app_dir / "app.pid").read_text().strip() == str(first.pid)
    assert first.stop() == 0
    assert not (app_dir / "app.pid").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT])
def test_fast_stop(serve, sig: int) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "30")
    wait_until(lambda: len(server.workers()) == 2, what="2 workers")
    workers = server.workers()
    server.send(sig)
    assert server.proc.wait(15) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_pid_file_unit(tmp_path: Path) -> None:
    pidfile = PidFile(str(tmp_path / "x.pid"))
    (tmp_path / "x.pid").write_text("999999999\n")  # a stale file of a dead process is replaced
    pidfile.create(os.getpid())
    assert (tmp_path / "x.pid").read_text() == f"{os.getpid()}\n"
    pidfile.remove()
    assert not (tmp_path / "x.pid").exists()
    with pytest.raises(ProcessError, match="cannot write"):
        PidFile(str(tmp_path / "no" / "x.pid")).create(1)
    drop_privileges(None, None)  # nothing asked: nothing done


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_drop_privileges_in_a_child() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            drop_privileges("nobody", "nogroup")
            os.write(write, f"{os.getuid()} {os.getgid()} {os.getgroups()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        result = os.read(read, 100).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert result == "65534 65534 []"
