"""The HTTP/1.1 grammar (RFC 9110 / RFC 9112) as compiled regular expressions over bytes.

Strategy: each piece of syntax the parser checks is one regex, so that a whole request line, a whole header
block or a whole chunk-size line is validated by a single call into the C regex engine. Every pattern is
linear: repetitions are separated by literals, so no input can make the engine backtrack more than a
constant per byte.
"""

from __future__ import annotations

import re

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
#                  / "~" / DIGIT / ALPHA ; token = 1*tchar
TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
TCHAR_NO_UNDERSCORE = rb"!#$%&'*+\-.^`|~0-9A-Za-z"
TOKEN = rb"[" + TCHAR + rb"]+"
# The same sets as bytes, for `translate(None, ...)`: what is left of a run of names is what is not a tchar.
TCHARS = bytes(c for c in range(256) if re.fullmatch(rb"[" + TCHAR + rb"]", bytes([c])))
TCHARS_NO_UNDERSCORE = TCHARS.replace(b"_", b"")

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version, CRLF-terminated (§2.1);
# RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT (case-sensitive).
# The target is any run of visible ASCII but "#" here; its form is checked separately (RFC 9112 §3.2).
# RFC 9112 §3.2: no form of request-target has a fragment (RFC 3986 §3.5): a "#" anywhere in it -> 400.
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21\x22\x24-\x7e]+) HTTP/([0-9]\.[0-9])\r\n")
# The common case, a subset of REQUEST_LINE: a usual method (not CONNECT), an origin-form target (RFC 9112
# §3.2.1: it starts with "/"), and HTTP/1.0 or HTTP/1.1 (the group is the minor version).
COMMON_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
COMMON_REQUEST_LINE = re.compile(
    rb"(" + "|".join(COMMON_METHODS).encode() + rb") (/[\x21\x22\x24-\x7e]*) HTTP/1\.([01])\r\n"
)


# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. A match starts only at a line start (after
# LF, or at offset 0) and ends at the line's CRLF. The value is "anything up to CR" because the regex engine
# runs such a class much faster than a set; its bytes (and trailing OWS) are checked separately, for the
# whole block at once, with `bytes.translate` (see NOT_CTL_OR_BLANK and _head.parse_fields).
# A value starts with a byte that is not SP/HTAB (RFC 9110 §5.5: field-value starts with field-vchar), so
# the OWS before it and the value cannot trade bytes: a failing line costs O(its length) to reject, not
# O(blanks x length) of backtracking.
def _field_line(tchar: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"(?m)^([" + tchar + rb"]+):[ \t]*((?:[^\r \t][^\r]*)?)\r\n")


FIELD_LINE = _field_line(TCHAR)
FIELD_LINE_NO_UNDERSCORE = _field_line(TCHAR_NO_UNDERSCORE)

# RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside values: every byte but the CTLs.
# `block.translate(None, NOT_CTL_OR_BLANK)` leaves the CTLs, SPs and HTABs of a block: short, and enough to
# see both invalid CTLs and OWS before a CRLF.
NOT_CTL_OR_BLANK = bytes([*range(0x21, 0x7F), *range(0x80, 0x100)])
# ... and with SP and HTAB deleted too, only the CTLs that are never allowed in a value (and CR, LF) remain.
NOT_CTL = NOT_CTL_OR_BLANK + b" \t"

# RFC 9112 §2.2: bare CR, or LF without CR, in the head -> reject. (CR at the end may still get its LF.)
BARE_CR_LF = re.compile(rb"(?<!\r)\n|\r[^\n]")

# RFC 3986 §3.2.2 host (reg-name or IP-literal) and §3.2.3 port, as used by RFC 9110 §7.2 (Host) and
# RFC 9112 §3.2.3 (authority-form).
_HOST = rb"(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)"
HOST_VALUE = re.compile(rb"(?:" + _HOST + rb")?(?::[0-9]*)?")
AUTHORITY_FORM = re.compile(_HOST + rb":[0-9]+")
# RFC 9112 §3.2.2: absolute-form = absolute-URI; an http(s) authority must not be empty (RFC 9110 §4.2.1).
# Only hierarchical URIs ("scheme://authority...") are accepted, which also keeps "host:port" (authority-form)
# from passing as a URI whose scheme is the host name.
# RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an error: no "user@" is allowed.
ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://" + _HOST + rb"(?::[0-9]*)?(?:[/?][\x21-\x7e]*)?")

# RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF ; chunk-size = 1*HEXDIG (bounded to 16 digits here);
# RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
# chunk-ext-val = token / quoted-string (RFC 9110 §5.6.4).
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*"
    + TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:"
    + TOKEN
    + rb"|"
    + _QUOTED
    + rb"))?)*)\r\n"
)
MAX_CHUNK_SIZE_DIGITS = 16
