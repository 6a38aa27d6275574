"""The framework's environment switches, read in one place: debug mode and loading of env files.

Strategy: each switch has a ``SOCKWEB_`` variable and, so that a Flask project moves over unchanged, the
``FLASK_`` variable of the same meaning as a fallback. :func:`getenv` encodes that order once.
"""

from __future__ import annotations

import os

_FALSE = frozenset({"0", "false", "no", "off", ""})


def getenv(name: str) -> str | None:
    """``SOCKWEB_<name>``, else ``FLASK_<name>``, else None."""
    value = os.environ.get(f"SOCKWEB_{name}")
    return value if value is not None else os.environ.get(f"FLASK_{name}")


def get_debug_flag() -> bool:
    """True when SOCKWEB_DEBUG (or FLASK_DEBUG) is set to something other than 0/false/no/off."""
    value = getenv("DEBUG")
    return value is not None and value.strip().lower() not in _FALSE


def get_load_dotenv(default: bool = True) -> bool:
    """False when SOCKWEB_SKIP_DOTENV (or FLASK_SKIP_DOTENV) is set to a true value, else ``default``."""
    value = getenv("SKIP_DOTENV")
    if value is None:
        return default
    return value.strip().lower() in _FALSE
