"""HTTP dates (RFC 9110 §5.6.7): formatting IMF-fixdate, parsing all three historical formats.

Strategy: the standard library's email date parser does the work; inputs longer than any real date are
refused before parsing, and every failure maps to ``None``.
"""

from __future__ import annotations

import email.utils
from datetime import date, datetime, timezone
from time import time


def http_date(timestamp: datetime | date | float | None = None) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``; ``None`` means now.

    Naive datetimes are taken as UTC; a date means its midnight, UTC.
    """
    if timestamp is None:
        timestamp = time()
    elif isinstance(timestamp, date) and not isinstance(timestamp, datetime):
        timestamp = datetime(timestamp.year, timestamp.month, timestamp.day, tzinfo=timezone.utc)
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=timezone.utc)
        timestamp = timestamp.timestamp()
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from any of the three HTTP date formats (RFC 9110 §5.6.7), else ``None``."""
    # Real dates are ~30 characters; refuse to spend effort on anything much longer.
    if not value or len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # asctime dates carry no zone: RFC 9110 says they are UTC.
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
