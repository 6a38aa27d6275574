"""The values of the cross-origin isolation headers (HTML Living Standard §7.1.3 and §7.1.4)."""

from __future__ import annotations

from enum import Enum


class COEP(Enum):
    """``Cross-Origin-Embedder-Policy`` values."""

    UNSAFE_NONE = "unsafe-none"
    REQUIRE_CORP = "require-corp"


class COOP(Enum):
    """``Cross-Origin-Opener-Policy`` values."""

    UNSAFE_NONE = "unsafe-none"
    SAME_ORIGIN_ALLOW_POPUPS = "same-origin-allow-popups"
    SAME_ORIGIN = "same-origin"
