"""Content negotiation: Accept, Accept-Language, Accept-Charset and Accept-Encoding (RFC 9110 §12.5).

Strategy: a header parses into a list of ``(value, quality)`` ranked best first; an offer's quality is
that of the most specific client value covering it, and :meth:`Accept.best_match` picks the offer the
client rates highest (the server's order breaks ties). Subclasses only change how values are normalized
and matched. At most MAX_ACCEPT_ITEMS entries are kept, so matching cost stays bounded.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .params import _comma_item_re, _split_items, dump_options_header, parse_options_header

AcceptT = TypeVar("AcceptT", bound="Accept")
MAX_ACCEPT_ITEMS = 64
_q_param_re = re.compile(r";\s*q\*?\s*=", re.IGNORECASE)
_quality_re = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z", re.ASCII)


class Accept(list[tuple[str, float]]):
    """A list of ``(value, quality)`` from an Accept-* header, best first (ties keep header order)."""

    def __init__(self, values: Iterable[tuple[str, float]] = ()) -> None:
        items = list(values)
        ranked = sorted(
            enumerate(items), key=lambda pair: (-pair[1][1], -self._specificity(pair[1][0]), pair[0])
        )
        super().__init__(item for _, item in ranked)
        self.provided = bool(items)

    def _specificity(self, value: str) -> int:
        return 0 if value == "*" else 1

    def _normalize(self, value: str) -> str:
        return value.lower()

    def _matches(self, offer: str, client: str) -> bool:
        """Does client value ``client`` cover ``offer``? (both normalized)"""
        return client in ("*", offer)

    def _exact(self, offer: str, client: str) -> bool:
        """Does ``client`` name ``offer`` itself rather than a range covering it? (both normalized)"""
        return offer == client

    def _rank(self, offer: str) -> tuple[float, int, bool]:
        """``(quality, specificity, exact)`` of the most specific client value covering ``offer``.

        The quality is that of the most specific value (RFC 9110 §12.5.1); the other two break ties
        between offers of equal quality. ``(0, -1, False)`` if no value covers it.
        """
        offer = self._normalize_offer(offer)
        best: tuple[float, int, bool] = (0.0, -1, False)
        for value, quality in self:
            client = self._normalize(value)
            if self._matches(offer, client):
                specificity = self._specificity(value)
                exact = self._exact(offer, client)
                if (specificity, exact) > best[1:]:
                    best = (quality, specificity, exact)
        return best

    def _normalize_offer(self, offer: str) -> str:
        """A server offer, normalized; subclasses refuse offers that cannot be valid (a server bug)."""
        return self._normalize(offer)

    def _quality_of(self, offer: str) -> float:
        """The quality of the most specific client value covering ``offer`` (0 if none)."""
        return self._rank(offer)[0]

    def quality(self, key: str) -> float:
        """The quality the client gives to ``key``."""
        return self._quality_of(key)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self._quality_of(value) > 0

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.quality(key)
        return super().__getitem__(key)

    def index(self, key: Any, *args: Any) -> int:
        if isinstance(key, str):
            for position, (value, _) in enumerate(self):
                if self._normalize(value) == self._normalize(key):
                    return position
            raise ValueError(key)
        return super().index(key, *args)

    def find(self, key: str) -> int:
        try:
            return self.index(key)
        except ValueError:
            return -1

    def values(self) -> Iterator[str]:
        for value, _ in self:
            yield value

    def best_match(self, matches: Iterable[str], default: str | None = None) -> str | None:
        """The server offer the client likes best; ``default`` if none is acceptable.

        Among offers of equal quality, the one matched by the more specific client value wins (an exact
        ``text/html`` over ``*/*``), then the first offer. An absent header accepts anything: the first
        offer is returned.
        """
        offers = list(matches)
        if not self.provided:
            return offers[0] if offers else default
        best, best_rank = default, (0.0, -1, False)
        for offer in offers:
            rank = self._rank(offer)
            if rank[0] > 0 and rank > best_rank:
                best, best_rank = offer, rank
        return best

    @property
    def best(self) -> str | None:
        return self[0][0] if len(self) else None

    def to_header(self) -> str:
        return ",".join(value if quality == 1 else f"{value};q={quality:g}" for value, quality in self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class MIMEAccept(Accept):
    """Accept: media ranges with ``type/*`` and ``*/*`` wildcards; parameters must match when given."""

    def _specificity(self, value: str) -> int:
        base, _, params = value.partition(";")
        kind, _, subtype = base.strip().partition("/")
        score = 0 if kind == "*" else (1 if subtype == "*" else 2)
        return score * 2 + (1 if params.strip() else 0)

    def _normalize(self, value: str) -> str:
        base, params = parse_options_header(value)
        if "/" not in base:
            base = "*/*" if base == "*" else base
        if not params:
            return base
        return base + ";" + ";".join(f"{k}={v.lower()}" for k, v in sorted(params.items()))

    def _matches(self, offer: str, client: str) -> bool:
        offer_base, _, offer_params = offer.partition(";")
        client_base, _, client_params = client.partition(";")
        offer_type, _, offer_sub = offer_base.partition("/")
        client_type, _, client_sub = client_base.partition("/")
        if client_type not in ("*", offer_type):
            return False
        if client_sub not in ("*", offer_sub):
            return False
        if client_params:
            return set(client_params.split(";")) <= set(offer_params.split(";"))
        return True

    def _exact(self, offer: str, client: str) -> bool:
        return offer == client

    def _normalize_offer(self, offer: str) -> str:
        if "/" not in offer:
            raise ValueError(f"invalid media type {offer!r}")
        return self._normalize(offer)

    @property
    def accept_html(self) -> bool:
        return self._quality_of("text/html") > 0 or self._quality_of("application/xhtml+xml") > 0

    @property
    def accept_json(self) -> bool:
        return self._quality_of("application/json") > 0


class LanguageAccept(Accept):
    """Accept-Language: ``en`` covers ``en-US`` (RFC 4647 basic filtering); ``_`` is read as ``-``."""

    def _normalize(self, value: str) -> str:
        return value.replace("_", "-").lower()

    def _specificity(self, value: str) -> int:
        return 0 if value == "*" else value.count("-") + 1

    def _matches(self, offer: str, client: str) -> bool:
        return client in ("*", offer) or offer.startswith(client + "-")

    def best_match(self, matches: Iterable[str], default: str | None = None) -> str | None:
        """As :meth:`Accept.best_match`; when no offer fits, a client's ``en-US`` also accepts an ``en``
        offer (its primary subtag) before ``default`` is returned."""
        offers = list(matches)
        found = super().best_match(offers)
        if found is not None or not self.provided:
            return found if found is not None else default
        primaries = Accept((_primary_subtag(value), quality) for value, quality in self)
        found = primaries.best_match(offers)
        return found if found is not None else default


def _primary_subtag(tag: str) -> str:
    return tag.replace("_", "-").split("-", 1)[0]


class CharsetAccept(Accept):
    """Accept-Charset: names compared after codec normalization (``utf8`` == ``UTF-8``)."""

    def _normalize(self, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            return value.lower()


def parse_accept_header(value: str | None, cls: type[AcceptT] | None = None) -> AcceptT:
    """Parse an Accept-* header into ``cls`` (default :class:`Accept`), dropping malformed entries.

    At most MAX_ACCEPT_ITEMS entries are kept, so ranking cost stays bounded.
    """
    factory: Callable[[Iterable[tuple[str, float]]], Any] = cls if cls is not None else Accept
    if not value:
        return factory(())  # type: ignore[no-any-return]
    entries: list[tuple[str, float]] = []
    for item in _split_items(value, _comma_item_re, ","):
        if not item:
            continue
        if len(entries) >= MAX_ACCEPT_ITEMS:
            break
        base, params = parse_options_header(item)
        quality = 1.0
        if "q" in params:
            raw = params.pop("q")
            if not _quality_re.match(raw):
                continue
            quality = float(raw)
        elif _q_param_re.search(item):
            continue  # a q parameter that did not even parse: the entry is malformed
        if not base:
            continue
        base = item.split(";", 1)[0].strip()  # the client's spelling (case) of the value
        if params:
            base = dump_options_header(base, params)
        entries.append((base, quality))
    return factory(entries)  # type: ignore[no-any-return]
