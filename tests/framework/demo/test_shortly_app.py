"""Shortly through app.test_client(), on each storage (SQLite and a real Redis)."""

from __future__ import annotations

import html
import re

import pytest

from sockweb.framework.demo.app import MAX_URL_LENGTH, check_url


def clicks(page: str) -> int:
    match = re.search(r'id="clicks"[^>]*>(\d+)<', page)
    assert match, page
    return int(match.group(1))


def error_message(page: str) -> str:
    match = re.search(r'role="alert">([^<]*)<', page)
    assert match, page
    return html.unescape(match.group(1))


def shorten(client, url: str) -> str:
    """POST the form; returns the short id from the redirect to the details page."""
    response = client.post("/", data={"url": url})
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    match = re.fullmatch(r"(?:http://localhost)?/([0-9A-Za-z]+)\+", location)
    assert match, location
    return match.group(1)


def test_front_page_has_the_form_and_no_links_yet(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert '<form method="post" action="/"' in page
    assert 'name="url"' in page
    assert "No links yet" in page
    assert '<link rel="stylesheet" href="/static/style.css">' in page


def test_shorten_follow_and_count(client) -> None:
    short_id = shorten(client, "https://www.python.org/about/")
    details = client.get(f"/{short_id}+")
    assert details.status_code == 200
    page = details.get_data(as_text=True)
    assert "https://www.python.org/about/" in page
    assert f"http://localhost/{short_id}</a>" in page  # the full short link, ready to copy
    assert clicks(page) == 0

    for expected in (1, 2, 3):
        follow = client.get(f"/{short_id}")
        assert follow.status_code == 302
        assert follow.headers["Location"] == "https://www.python.org/about/"
        assert clicks(client.get(f"/{short_id}+").get_data(as_text=True)) == expected


def test_head_shows_the_target_without_counting(client) -> None:
    short_id = shorten(client, "https://example.com/checked")
    response = client.head(f"/{short_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/checked"
    assert clicks(client.get(f"/{short_id}+").get_data(as_text=True)) == 0


def test_the_same_url_keeps_its_short_id(client) -> None:
    first = shorten(client, "https://example.com/")
    second = shorten(client, "  https://example.com/  ")  # surrounding spaces are not part of a URL
    other = shorten(client, "https://example.com/other")
    assert first == second != other


def test_recent_links_newest_first_limited_to_ten(client) -> None:
    ids = [shorten(client, f"https://example.com/{n}") for n in range(12)]
    page = client.get("/").get_data(as_text=True)
    listed = re.findall(r'class="short" href="/([0-9A-Za-z]+)\+"', page)
    assert listed == ids[::-1][:10]
    assert "No links yet" not in page


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the URL you want to shorten."),
        ("   ", "Enter the URL you want to shorten."),
        ("example.com/page", "Start the URL with http:// or https://, as in https://example.com/."),
        ("localhost:8000", "Start the URL with http:// or https://, as in https://example.com/."),
        ("javascript:alert(1)", "Only http:// and https:// URLs can be shortened, not javascript:."),
        ("ftp://ftp.example.com/file", "Only http:// and https:// URLs can be shortened, not ftp:."),
        ("http://", "That URL has no host name, such as example.com."),
        ("https://exa mple.com/", "A URL cannot contain spaces or control characters."),
        ("https://example.com/\r\nSet-Cookie: x=1", "A URL cannot contain spaces or control characters."),
        ("http://[::1/", "That URL is malformed (Invalid IPv6 URL)."),
        ("http://example.com:99999/", "That URL is malformed (Port out of range 0-65535)."),
        ("http://a..b/", "That URL's host name is not valid."),
        ("http://%00/", "That URL's host name is not valid."),
        ("http://-x.example/", "That URL's host name is not valid."),
        ("http://\u2488.com/", "That URL's host name is not valid."),  # IDNA maps it to an empty label
        (
            "https://example.com/" + "a" * MAX_URL_LENGTH,
            "That URL is 2,068 characters long; the limit is 2,048.",
        ),
    ],
)
def test_invalid_urls_get_a_clear_message(client, url: str, message: str) -> None:
    response = client.post("/", data={"url": url})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error_message(page) == message
    assert 'aria-invalid="true"' in page
    assert "No links yet" in page  # nothing was stored


def test_rejected_input_is_shown_back_escaped(client) -> None:
    response = client.post("/", data={"url": '"><script>alert(1)</script>'})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_stored_urls_are_ascii_and_safe_for_headers(client) -> None:
    short_id = shorten(client, 'https://bücher.example/straße?q="<x>"')
    response = client.get(f"/{short_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://xn--bcher-kva.example/stra%C3%9Fe?q=%22%3Cx%3E%22"


# Every path that names no link, on each backend: too long, out of range, bad alphabet, empty, unicode.
UNKNOWN_LINKS = [
    "/nothing",
    "/zzzzzz+",
    "/0",
    "/00+",
    "/a.b",
    "/%00",
    "/" + "9" * 40,
    "/nonexistent",  # 11 letters spell a number too large for a 64-bit integer
    "/nonexistent+",
    "/zzzzzzzzzzz",
    "/zzzzzzzzzzz+",
    "/aZl8N0y58M8",  # 2**63, the first id out of range
    "/aZl8N0y58M8+",
    "/" + "z" * 5000,
    "/" + "z" * 5000 + "+",
    "/+",
    "/++",
    "/%2B",
    "/a-b+",
    "/%C3%A9",
    "/%C3%A9+",
    "/%EF%BD%9A",  # fullwidth z
    "/%D9%A1%D9%A2+",  # Arabic-Indic digits
    "/%FF",  # not UTF-8
]


@pytest.mark.parametrize("path", UNKNOWN_LINKS)
def test_unknown_links_get_the_404_page(client, path: str) -> None:
    shorten(client, "https://example.com/")  # a store with a link in it
    response = client.get(path)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "404: no such link" in page
    assert "/static/style.css" in page


def test_stylesheet_is_served(client) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert b".card" in response.get_data()


def test_oversized_form_body_is_refused(client) -> None:
    response = client.post("/", data={"url": "https://example.com/" + "a" * 100_000})
    assert response.status_code == 413


def test_check_url_accepts_plain_urls_unchanged() -> None:
    for url in (
        "http://example.com",
        "https://example.com/a/b?c=d&e=%20#frag",
        "http://127.0.0.1:8000/x",
        "http://[::1]:8080/",
        "http://localhost/",
        "https://my_host.example.com./",
        "http://user:secret@example.com/",
    ):
        assert check_url(url).url == url
    assert check_url("HTTPS://Example.com/").url == "https://Example.com/"
