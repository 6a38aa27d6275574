"""Content-Security-Policy (W3C CSP Level 3 §2.2): directives as a dict with attribute access.

Strategy: as :mod:`.cache_control`, a dict of directive -> value list (``None`` for a directive without
values) whose attributes come from one table of directive names, and whose changes call ``on_update``.
Formatting refuses a ``;`` or ``,`` or a control character in a name or value, because each would end
the directive (or the policy) and let a value smuggle in another directive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .params import _token_re

# CSP Level 3 and its companions (Trusted Types, Upgrade Insecure Requests, Reporting).
DIRECTIVES = (
    "base-uri", "child-src", "connect-src", "default-src", "font-src", "form-action", "frame-ancestors",
    "frame-src", "img-src", "manifest-src", "media-src", "navigate-to", "object-src", "prefetch-src",
    "plugin-types", "report-to", "report-uri", "require-trusted-types-for", "sandbox", "script-src",
    "script-src-attr", "script-src-elem", "style-src", "style-src-attr", "style-src-elem",
    "trusted-types", "upgrade-insecure-requests", "worker-src",
)  # fmt: skip
# CSP §2.2.1: a directive value is serialized-source-list characters; these end a directive or a policy.
_unsafe_value_re = re.compile(r"[;,\x00-\x08\x0a-\x1f\x7f]")


def _directive_property(name: str) -> property:
    def getter(self: ContentSecurityPolicy) -> str | None:
        return self.get(name)

    def setter(self: ContentSecurityPolicy, value: str | None) -> None:
        if value is None:
            self.pop(name, None)
        else:
            self[name] = value
        self._changed()

    def deleter(self: ContentSecurityPolicy) -> None:
        setter(self, None)

    return property(getter, setter, deleter, doc=f"The {name} directive.")


class ContentSecurityPolicy(dict[str, "str | None"]):
    """CSP directives: ``csp.default_src = "'self'"``; ``to_header()`` renders the policy.

    Names are lowercased; attributes use ``_`` for ``-``. ``on_update`` is called after attribute writes.
    """

    def __init__(
        self,
        values: Mapping[str, str | None] | Iterable[tuple[str, str | None]] = (),
        on_update: Callable[[ContentSecurityPolicy], None] | None = None,
    ) -> None:
        super().__init__(values)
        self.on_update = on_update

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    def to_header(self) -> str:
        return dump_csp_header(self)

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()!r}>"


for _name in DIRECTIVES:
    setattr(ContentSecurityPolicy, _name.replace("-", "_"), _directive_property(_name))
del _name


def parse_csp_header(
    value: str | None,
    on_update: Callable[[ContentSecurityPolicy], None] | None = None,
    cls: type[ContentSecurityPolicy] | None = None,
) -> ContentSecurityPolicy:
    """``"default-src 'self'; img-src"`` -> ``{"default-src": "'self'", "img-src": None}``.

    CSP §2.2.1: the first occurrence of a directive wins; a name that is not a token is skipped.
    """
    directives: dict[str, str | None] = {}
    for item in (value or "").split(";"):
        name, _, rest = item.strip().partition(" ")
        name = name.lower()
        if name and _token_re.match(name) and name not in directives:
            directives[name] = rest.strip() or None
    return (cls or ContentSecurityPolicy)(directives, on_update)


def dump_csp_header(policy: Mapping[str, Any]) -> str:
    """The policy as one header value; ``ValueError`` for a name or value that would break out of it."""
    parts = []
    for name, value in policy.items():
        if not _token_re.match(name):
            raise ValueError(f"invalid CSP directive name {name!r}")
        if value is None:
            parts.append(name)
            continue
        text = str(value)
        if _unsafe_value_re.search(text):
            raise ValueError(f"CSP directive {name} contains ';', ',' or a control character: {text!r}")
        parts.append(f"{name} {text}")
    return "; ".join(parts)
