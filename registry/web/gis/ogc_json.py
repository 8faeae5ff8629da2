"""JSON answers of the machine API (/ogc and /tiles): documents, and the OGC exception document for every error.

Kept apart from the blueprints so that the app-wide error handlers (``web/errors.py``) answer a bad URL
or a store that is away under /ogc and /tiles in the same format, without importing a blueprint.
"""

from __future__ import annotations

import json

from flask import Response

OGC_CODES = {400: "InvalidParameterValue", 401: "NotAuthorized", 403: "Forbidden", 404: "NotFound",
             405: "MethodNotAllowed", 406: "NotAcceptable", 500: "ServerError"}


def json_response(body, status: int = 200, mimetype: str = "application/json") -> Response:
    """``body`` as UTF-8 JSON (characters not escaped; dates and other values written by ``str``)."""
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=mimetype)


def exception_response(status: int, message: str, field: str | None = None) -> Response:
    """An OGC API exception document (JSON) with its HTTP status."""
    body = {"code": OGC_CODES.get(status, "Error"), "description": message}
    if field:
        body["parameter"] = field
    response = json_response(body, status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    return response
