"""Parsing and formatting of HTTP header values: dates, parameters, cookies, ETags and preconditions,
ranges, Accept negotiation, Cache-Control and Authorization, one module each.

Strategy: every parser takes a ``str`` (as found in a WSGI environ) and returns a small value object or
``None``; none raises on malformed client input, because a bad optional header must degrade to "header
absent", never to a 500. All scanning uses regular expressions whose alternatives start with disjoint
characters, or plain ``str.split``, so the cost is linear in the header size whatever the input (header
sizes are already bounded by the server). Formatters validate what they emit (cookie names, ETags, option
values) and raise ``ValueError`` for values that cannot be represented safely. Import from this package;
the submodules are its layout.
"""

from __future__ import annotations

from .accept import Accept, CharsetAccept, LanguageAccept, MIMEAccept, parse_accept_header
from .auth import Authorization, WWWAuthenticate, parse_authorization_header
from .cache_control import (
    CacheControl,
    RequestCacheControl,
    ResponseCacheControl,
    dump_cache_control,
    parse_cache_control,
    parse_cache_control_header,
)
from .conditional import (
    ETags,
    evaluate_preconditions,
    generate_etag,
    if_range_matches,
    is_resource_modified,
    parse_etags,
    quote_etag,
    unquote_etag,
)
from .cookies import dump_cookie, parse_cookie
from .csp import ContentSecurityPolicy, dump_csp_header, parse_csp_header
from .dates import http_date, parse_date
from .header_set import HeaderSet, parse_set_header
from .params import (
    dump_options_header,
    parse_dict_header,
    parse_list_header,
    parse_list_header_raw,
    parse_options_header,
    quote_header_value,
    unquote_header_value,
)
from .policies import COEP, COOP
from .ranges import ContentRange, Range, parse_content_range, parse_range_header

__all__ = [
    "COEP",
    "COOP",
    "Accept",
    "Authorization",
    "CacheControl",
    "CharsetAccept",
    "ContentRange",
    "ContentSecurityPolicy",
    "ETags",
    "HeaderSet",
    "LanguageAccept",
    "MIMEAccept",
    "Range",
    "RequestCacheControl",
    "ResponseCacheControl",
    "WWWAuthenticate",
    "dump_cache_control",
    "dump_cookie",
    "dump_csp_header",
    "dump_options_header",
    "evaluate_preconditions",
    "generate_etag",
    "http_date",
    "if_range_matches",
    "is_resource_modified",
    "parse_accept_header",
    "parse_authorization_header",
    "parse_cache_control",
    "parse_cache_control_header",
    "parse_content_range",
    "parse_cookie",
    "parse_csp_header",
    "parse_date",
    "parse_dict_header",
    "parse_etags",
    "parse_list_header",
    "parse_list_header_raw",
    "parse_options_header",
    "parse_range_header",
    "parse_set_header",
    "quote_etag",
    "quote_header_value",
    "unquote_etag",
    "unquote_header_value",
]
