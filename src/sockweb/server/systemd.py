"""systemd integration without a dependency: socket activation and sd_notify.

* Socket activation: systemd passes listening sockets as file descriptors 3, 4, ... and sets
  ``LISTEN_PID`` (the pid meant to use them) and ``LISTEN_FDS`` (how many). :func:`listen_fds` adopts them
  and removes the variables, so a child process never mistakes them for its own (sd_listen_fds(3)).
* Notification: when ``NOTIFY_SOCKET`` is set, :func:`notify` sends ``READY=1``, ``RELOADING=1``,
  ``STOPPING=1``... as one datagram to that unix socket (a leading ``@`` means the abstract namespace), as
  sd_notify(3) describes. Without the variable it does nothing, so callers need not check.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

__all__ = ["SD_LISTEN_FDS_START", "listen_fds", "notify"]

SD_LISTEN_FDS_START = 3


def listen_fds(environ: MutableMapping[str, str] | None = None, *, unset: bool = True) -> list[socket.socket]:
    """The sockets systemd passed to this process (empty when not socket-activated)."""
    env = os.environ if environ is None else environ
    pid, count = env.get("LISTEN_PID", ""), env.get("LISTEN_FDS", "")
    if unset:
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(key, None)
    if not pid.isdigit() or int(pid) != os.getpid() or not count.isdigit():
        return []
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)):
        os.set_inheritable(fd, True)  # workers share them
        sockets.append(socket.socket(fileno=fd))
    return sockets


def notify(state: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; False when not under systemd or on failure."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "@/":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(target)
            sock.sendall(state.encode("utf-8"))
    except OSError:
        return False
    return True
