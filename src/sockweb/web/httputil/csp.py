"""The Content-Security-Policy header (W3C CSP Level 3 §2.2): :class:`ContentSecurityPolicy`.

Strategy: a policy is an ordered dict of directive name -> value; directives also read and write as
attributes with ``_`` for ``-`` (``policy.script_src``), and each change calls ``on_update`` so a Response
keeps its header in sync, as :class:`~.cache_control.CacheControl` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["ContentSecurityPolicy", "dump_csp_header", "parse_csp_header"]


class ContentSecurityPolicy(dict[str, str]):
    """Directives of a policy; ``to_header()`` renders ``default-src 'self'; img-src *``."""

    def __init__(
        self,
        values: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        on_update: Callable[[ContentSecurityPolicy], None] | None = None,
    ) -> None:
        super().__init__(values)
        self.on_update = on_update

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name.replace("_", "-"))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "on_update" or name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        key = name.replace("_", "-")
        if value is None:
            self.pop(key, None)
        else:
            dict.__setitem__(self, key, str(value))
        self._changed()

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def to_header(self) -> str:
        return dump_csp_header(self)

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()!r}>"


def parse_csp_header(
    value: str | None, on_update: Callable[[ContentSecurityPolicy], None] | None = None
) -> ContentSecurityPolicy:
    """Parse a policy; empty directives are dropped, and the first of a repeated directive wins
    (CSP3 §2.2.1 step 2.5: later duplicates are ignored)."""
    policy = ContentSecurityPolicy()
    for item in (value or "").split(";"):
        name, _, rest = item.strip().partition(" ")
        name = name.lower()
        if name and name not in policy:
            dict.__setitem__(policy, name, rest.strip())
    policy.on_update = on_update
    return policy


def dump_csp_header(policy: Mapping[str, str]) -> str:
    """``name value; name value`` for each directive (a directive without value is its name alone)."""
    for key, value in policy.items():
        # A ";" or a line break would start another directive or header: refuse it, as other formatters do.
        if any(char in f"{key}{value}" for char in ";\r\n"):
            raise ValueError(f"invalid Content-Security-Policy directive {key!r}: {value!r}")
    return "; ".join(f"{key} {value}".rstrip() for key, value in policy.items())
