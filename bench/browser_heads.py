"""Browser-like request heads that never repeat: the Python twin of bench/browser.lua.

Request number `n` (1, 2, ...) gives one head of ~620 bytes with 11 header fields, shaped like what a
browser sends when it walks a site: page navigations (Accept text/html, Upgrade-Insecure-Requests,
Sec-Fetch-Mode navigate) and the fetch() calls of those pages (Accept application/json, Sec-Fetch-Mode
cors). Every head is a pure function of `n` and the Host value, computed with integer arithmetic that a
Lua number holds exactly, so this module and the wrk script produce the same bytes (checked by
tests/bench/test_browser_heads.py with luajit). wrk thread `t` (counting from 0) sends requests
t * 10**9 + 1, t * 10**9 + 2, ...

What varies, and why no head ever repeats:

- the user (one of 1,000): their User-Agent (one of 6 current browsers), Accept-Language, session id and
  analytics cookies;
- the path and query (five kinds of page or API call, ids and search terms drawn from `n`);
- the Referer (another page of the site);
- the `_dd_s` cookie, a real-user-monitoring cookie whose `expire` field a browser rewrites on every
  request: here it grows with `n`, so two heads of one run never are equal.

Usage: ``head(n, "127.0.0.1:8000")`` -> bytes, ending with the empty line.
"""

from __future__ import annotations

# (User-Agent, Accept-Encoding): Chrome, Firefox, Safari, Edge, Safari on iPhone, Chrome on Android.
AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "gzip, deflate, br, zstd",
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "gzip, deflate, br, zstd"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "gzip, deflate, br",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "gzip, deflate, br, zstd",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "gzip, deflate, br",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "gzip, deflate, br, zstd",
    ),
)
LANGUAGES = (
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
    "en-GB,en;q=0.5",
    "fr-FR,fr;q=0.9,en;q=0.8",
)
WORDS = ("wool", "socks", "merino", "hiking", "winter", "black", "cotton", "kids", "ankle", "sale")
COLORS = ("black", "navy", "grey", "red", "olive")
SLUGS = ("choosing-hiking-socks", "how-we-knit", "washing-merino", "sizes-explained", "winter-collection")
SECTIONS = ("products", "articles", "search", "account/orders", "categories")
PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
API_ACCEPT = "application/json, text/plain, */*"
EPOCH_MS = 1767225600000  # 2026-01-01, the clock of request 0


def _next(x: int) -> int:
    """One step of the MINSTD generator: every product stays below 2**53, exact in a Lua number."""
    return x * 48271 % 2147483647


def target(n: int) -> tuple[str, bool]:
    """(request target, whether it is an API call) of request `n`."""
    kind = n % 5
    if kind == 0:
        return f"/products/{1000 + n * 7 % 9000}?color={COLORS[n % 5]}&size={36 + n % 11}&ref=listing", False
    if kind == 1:
        words = f"{WORDS[n * 3 % 10]}+{WORDS[n * 7 % 10]}"
        return f"/search?q={words}&page={1 + n % 20}&sort=relevance", False
    if kind == 2:
        return f"/api/v1/cart/items?include=prices,stock&_={EPOCH_MS + n * 137}", True
    if kind == 3:
        return (
            f"/articles/{2020 + n % 6}/{SLUGS[n % 5]}?utm_source=newsletter&utm_campaign=week{n % 52}",
            False,
        )
    return f"/api/v1/recommendations?product={1000 + n * 13 % 9000}&limit=12", True


def head(n: int, host: str) -> bytes:
    """The request head of request number `n` (n >= 1) for a server at `host` (the Host value)."""
    user = n * 7919 % 1000
    agent, encoding = AGENTS[user % 6]
    x1 = _next(user + 1)
    x2 = _next(x1)
    x3 = _next(x2)
    x4 = _next(x3)
    x5 = _next(x4)
    now = EPOCH_MS + n * 137
    first_visit = 1735689600 + user * 8641  # seconds, a day or so apart per user
    path, api = target(n)
    referer = f"http://{host}/{SECTIONS[n * 3 % 5]}/{1 + n * 17 % 500}"
    cookie = (
        f"sid={x1:08x}{x2:08x}{x3:08x}; _ga=GA1.1.{x4}.{first_visit}; "
        f"_dd_s=rum=1&id={x5:08x}&expire={now + 900000}"
    )
    if api:
        last = ("Sec-Fetch-Dest: empty", "Sec-Fetch-Mode: cors", "Sec-Fetch-Site: same-origin")
        accept = API_ACCEPT
    else:
        last = ("Upgrade-Insecure-Requests: 1", "Sec-Fetch-Dest: document", "Sec-Fetch-Mode: navigate")
        accept = PAGE_ACCEPT
    lines = (
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {agent}",
        f"Accept: {accept}",
        f"Accept-Language: {LANGUAGES[user % 4]}",
        f"Accept-Encoding: {encoding}",
        f"Referer: {referer}",
        "Connection: keep-alive",
        f"Cookie: {cookie}",
        *last,
        "",
        "",
    )
    return "\r\n".join(lines).encode("latin-1")
