"""Applications whose result misbehaves after a correct start_response (the server must answer 500 or
close the connection, never hang or fail in its event loop). Not wrapped in wsgiref.validate: the
validator would refuse these results before the server sees them, and that is what they test."""

from __future__ import annotations


def _start(start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])


def none(environ, start_response):
    _start(start_response)
    return None


def number(environ, start_response):
    _start(start_response)
    return 42


def no_start_none(environ, start_response):
    return None


class _IterRaises:
    def __iter__(self):
        raise RuntimeError("the result's __iter__ failed")


def iter_raises(environ, start_response):
    _start(start_response)
    return _IterRaises()


class _NonIterator:
    def __iter__(self):
        return 5


def non_iterator(environ, start_response):
    _start(start_response)
    return _NonIterator()


class _LenRaises:
    def __len__(self):
        raise RuntimeError("len() must not be needed")

    def __iter__(self):
        return iter([b"len ok"])


def len_raises(environ, start_response):
    _start(start_response)
    return _LenRaises()


class _CloseRaises(list):
    def close(self):
        raise RuntimeError("the result's close() failed")


def close_raises(environ, start_response):
    _start(start_response)
    return _CloseRaises([b"close ", b"raises"])


class _CloseProperty:
    def __iter__(self):
        return iter([b"close property"])

    @property
    def close(self):
        raise RuntimeError("the result's close attribute failed")


def close_property(environ, start_response):
    _start(start_response)
    return _CloseProperty()


def hello(environ, start_response):
    _start(start_response)
    return [b"Hello"]


APPS = {
    f.__name__: f
    for f in (
        none,
        number,
        no_start_none,
        iter_raises,
        non_iterator,
        len_raises,
        close_raises,
        close_property,
        hello,
    )
}


def dispatch(environ, start_response):
    """Routes /NAME to the app NAME."""
    return APPS[environ["PATH_INFO"].strip("/")](environ, start_response)
