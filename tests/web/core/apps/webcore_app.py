"""A small app built only on the toolkit core, served by the real server in test_end_to_end.py."""

from __future__ import annotations

import json
import os
from typing import Any
from wsgiref.validate import validator

from sockweb.web.exceptions import HTTPException, NotFound
from sockweb.web.request import Request
from sockweb.web.response import Response, send_file


class LimitedRequest(Request):
    max_content_length = 24 << 20
    max_form_parts = 50


def upload(request: Request) -> Response:
    files = {name: len(storage.read()) for name, storage in request.files.items(multi=True)}
    return Response(json.dumps({"form": request.form.to_dict(), "files": files}), mimetype="application/json")


def echo_json(request: Request) -> Response:
    return Response(json.dumps({"got": request.json}), mimetype="application/json")


def view(request: Request, environ: dict[str, Any]) -> Response:
    if request.path == "/upload":
        return upload(request)
    if request.path == "/json":
        return echo_json(request)
    if request.path == "/file":
        return send_file(os.environ["WEBCORE_PAYLOAD"], environ)
    raise NotFound()


def _app(environ: dict[str, Any], start_response: Any) -> Any:
    request = LimitedRequest(environ)
    try:
        with request:
            response = view(request, environ)
    except HTTPException as error:
        return error(environ, start_response)
    return response(environ, start_response)


app = validator(_app)
