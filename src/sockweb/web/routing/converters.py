"""Converters: the typed parts of a rule (``<int:id>``, ``<path:rest>``) and their arguments.

Strategy: a converter is a regex for the URL part plus ``to_python``/``to_url``. The regex only shapes
the candidate text (a matching rule's groups are compiled into the map's regexes); ``to_python`` may
still refuse a value by raising ValidationError, which makes the router try the next rule. ``weight``
and ``part_isolating`` feed the rule sort order. Arguments in a rule (``int(min=1)``) are Python
literals, parsed once when the rule is compiled, with bare words taken as strings.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sockweb.web.routing.errors import ValidationError

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map


# Most values are plain words: checking that is cheaper than quote().
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9_.~!$&'()*+,:;=@-]*\Z").match
_NEEDS_NO_QUOTING_PATH = re.compile(r"[A-Za-z0-9_.~!$&'()*+,:;=@/-]*\Z").match


class BaseConverter:
    """Turns one URL part into a Python value and back.

    ``regex`` is what the part may look like, ``weight`` orders rules (lower is tried first),
    ``part_isolating`` says the regex never crosses a ``/``. ``to_python`` may raise ValidationError to
    make the router skip the rule and try the next one.
    """

    regex = "[^/]+"
    weight = 100
    part_isolating = True

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        self.map = map

    def to_python(self, value: str) -> Any:
        return value

    def to_url(self, value: Any) -> str:
        # "/" is quoted: a single-segment converter could not match it back.
        text = str(value)
        return text if _NEEDS_NO_QUOTING(text) else quote(text, safe="!$&'()*+,:;=@")


class UnicodeConverter(BaseConverter):
    """``<string(minlength=1, maxlength=None, length=None):name>``: one path segment (the default)."""

    def __init__(
        self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None
    ) -> None:
        super().__init__(map)
        if length is not None:
            bounds = f"{{{int(length)}}}"
        else:
            bounds = f"{{{int(minlength)},{'' if maxlength is None else int(maxlength)}}}"
        self.regex = f"[^/]{bounds}"


class IntegerConverter(BaseConverter):
    """``<int(fixed_digits=0, min=None, max=None, signed=False):name>``: ASCII digits only."""

    weight = 50
    _kind: Callable[[str], Any] = int
    _digits = "[0-9]+"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map)
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed
        # [0-9], not \d: \d also matches non-ASCII digits, which int() would accept.
        digits = f"[0-9]{{{fixed_digits}}}" if fixed_digits else self._digits
        self.regex = f"-?{digits}" if signed else digits

    def to_python(self, value: str) -> Any:
        if self.fixed_digits and len(value.lstrip("-")) != self.fixed_digits:
            raise ValidationError(value)
        try:
            number = self._kind(value)
        except ValueError:
            # int() refuses more than sys.get_int_max_str_digits() digits: such a segment names no resource.
            raise ValidationError(value) from None
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise ValidationError(value)
        return number

    def to_url(self, value: Any) -> str:
        text = str(self._kind(value))
        if self.fixed_digits:
            sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
            text = sign + digits.zfill(self.fixed_digits)
        return text


class FloatConverter(IntegerConverter):
    """``<float(min=None, max=None, signed=False):name>``: digits, a dot, digits."""

    _kind = float
    _digits = r"[0-9]+\.[0-9]+"

    def __init__(
        self, map: Map, min: float | None = None, max: float | None = None, signed: bool = False
    ) -> None:
        super().__init__(map, 0, min, max, signed)


class PathConverter(BaseConverter):
    """``<path:name>``: the rest of the path, slashes included (never empty, never starts with /)."""

    regex = "[^/].*?"
    weight = 200
    part_isolating = False

    def to_url(self, value: Any) -> str:
        text = str(value)
        return text if _NEEDS_NO_QUOTING_PATH(text) else quote(text, safe="!$&'()*+,/:;=@")


class UUIDConverter(BaseConverter):
    """``<uuid:name>``: a hyphenated UUID, converted to ``uuid.UUID``."""

    regex = "[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"

    def to_python(self, value: str) -> Any:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(value)


class AnyConverter(BaseConverter):
    """``<any(about, help, "contact us"):page>``: one of a fixed set of words."""

    def __init__(self, map: Map, *items: str) -> None:
        super().__init__(map)
        if not items:
            raise ValueError("any() needs at least one item")
        self.choices = tuple(dict.fromkeys(str(item) for item in items))
        self.items = frozenset(self.choices)
        self.regex = "(?:" + "|".join(re.escape(item) for item in sorted(self.items, key=len)[::-1]) + ")"

    def to_url(self, value: Any) -> str:
        # A plain ValueError, not ValidationError: building with a value outside the set is the
        # caller's mistake, to be reported, not a reason to try the endpoint's next rule.
        if str(value) not in self.items:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, self.choices))}")
        return super().to_url(value)


DEFAULT_CONVERTERS: dict[str, type[BaseConverter]] = {
    "default": UnicodeConverter,
    "string": UnicodeConverter,
    "int": IntegerConverter,
    "float": FloatConverter,
    "path": PathConverter,
    "uuid": UUIDConverter,
    "any": AnyConverter,
}

# ---------------------------------------------------------------------------------- converter arguments

_ARGUMENT = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<value>"[^"]*"|'[^']*'|[^,;="']*?)\s*(?:,|$)"""
)


def _literal(text: str) -> Any:
    """A converter argument: a quoted string taken as written (a regex keeps its backslashes), a Python
    literal (1, 2.5, True, None) or a bare word taken as a string."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_converter_args(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``'a, "b c", min=1'`` -> ``(("a", "b c"), {"min": 1})``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _ARGUMENT.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot parse converter arguments {text!r}")
        position = match.end()
        value = _literal(match["value"])
        if match["key"]:
            kwargs[match["key"]] = value
        else:
            args.append(value)
    return tuple(args), kwargs
