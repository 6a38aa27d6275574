"""The User-Agent header as a value: :class:`UserAgent`.

Strategy: the header string itself, as a ``str`` subclass (code that treats ``request.user_agent`` as text
keeps working), plus the attributes of a parsed agent. sockweb does not guess browsers from the string
(a guess is wrong often enough to mislead); the parsed attributes are ``None`` and a subclass set as
``Request.user_agent_class`` may fill them from a parsing library.
"""

from __future__ import annotations

__all__ = ["UserAgent"]


class UserAgent(str):
    """A User-Agent header value (``""`` when absent)."""

    platform: str | None = None
    browser: str | None = None
    version: str | None = None
    language: str | None = None

    @property
    def string(self) -> str:
        """The header value as a plain ``str``."""
        return str.__str__(self)

    def to_header(self) -> str:
        return self.string

    def __str__(self) -> str:
        return self.string

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.string!r}/{self.version}>"
