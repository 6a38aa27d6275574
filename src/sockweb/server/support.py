"""Which systems the server runs on, and the one line that says so where it does not.

The server is built on POSIX: worker processes are forked, signals steer them (HUP, USR1, TTIN...), and
``unix:`` binds are AF_UNIX sockets. Windows has none of these, so there ``sockweb serve`` (and every
command that starts the server) stops at once with :func:`unsupported`'s line and exit status 2, rather
than with a traceback from deep inside. The rest of the package (the protocol core, the toolkit and its
test client, the framework) imports and runs everywhere: its modules import unix-only modules
(``resource``, ``grp``, ``pwd``) only where they are used, behind ``ImportError``.

The check asks for the capabilities themselves rather than the platform's name, so it holds for any
system that lacks them.
"""

from __future__ import annotations

import os
import signal
import socket
from types import ModuleType

__all__ = ["REQUIRED", "unsupported"]

# What the server uses that only POSIX systems have.
REQUIRED: tuple[tuple[ModuleType, str], ...] = (
    (os, "fork"),
    (signal, "SIGHUP"),
    (signal, "SIGUSR1"),
    (socket, "AF_UNIX"),
)


def unsupported() -> str | None:
    """None where the server runs; else one line for the user naming what this system lacks."""
    missing = [f"{module.__name__}.{name}" for module, name in REQUIRED if not hasattr(module, name)]
    if not missing:
        return None
    return (
        f"the server runs on POSIX systems only (Linux, macOS, BSD); this one has no {', '.join(missing)}"
        " - on Windows, run it under WSL"
    )
