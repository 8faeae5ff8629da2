"""Error pages and JSON errors, mapped in one place from the services' typed errors."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from registry.db import StoreError
from registry.services.base import ServiceError


def _wants_json() -> bool:
    return (request.path.startswith(("/api", "/healthz")) or _is_ogc_path()
            or request.accept_mimetypes.best == "application/json")


# GIS clients (QGIS, GDAL, OWSLib) read errors under these prefixes as OGC exception documents.
_OGC_PREFIXES = ("/ogc", "/tiles")


def _is_ogc_path() -> bool:
    path = request.path
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _OGC_PREFIXES)


def _ogc_routing_error(exc: HTTPException):
    """An unmatched URL or a wrong method under /ogc or /tiles, as the OGC exception JSON.

    Routing fails before any blueprint is chosen, so the OGC blueprint's own handlers never see
    these; the app-wide handler answers in the same format by reusing the blueprint's renderer.
    """
    from registry.web.ogc import exception_response

    own = exc.description if exc.description != type(exc).description else ""
    if exc.code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or ())
        message = own or (f"method {request.method} is not allowed on {request.path}"
                          + (f"; use {', '.join(allowed)}" if allowed else ""))
        response = exception_response(405, message)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response
    if exc.code == 404 and not own:
        area = "/tiles/{collectionId}/{z}/{x}/{y}.mvt" if request.path.startswith("/tiles") else "/ogc"
        own = f"there is no resource at {request.path}; start from {area} (collections: /ogc/collections)"
    return exception_response(exc.code or 500, own or exc.name)


def _respond(status: int, message: str, field: str | None = None):
    if _wants_json():
        body = {"status": status, "message": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    template = f"errors/{status}.html" if status in (403, 404, 503) else "errors/500.html"
    if status in (400, 409, 413, 429):
        template = "errors/400.html"
    return render_template(template, message=message, status=status, field=field), status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if exc.status == 403:
            # A service refusing a county or a record: kept in the audit trail, as the rights table's refusals are.
            from registry.web.auth import audit_forbidden

            audit_forbidden(exc.message)
        return _respond(exc.status, exc.message, exc.field)

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError):
        return _respond(503, str(exc))

    def http_error(exc):
        if _is_ogc_path():
            return _ogc_routing_error(exc)
        # Werkzeug's stock English description would show on Chinese pages: pass only our own messages.
        own = exc.description if exc.description != type(exc).description else ""
        return _respond(exc.code, own)

    for status in (400, 403, 404, 405):
        app.register_error_handler(status, http_error)

    @app.errorhandler(413)
    def too_large(exc):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return _respond(413, f"The upload is larger than the {limit // (1024 * 1024)} MB this registry accepts; "
                             "nothing was saved. Split the file or send a smaller one.")

    @app.errorhandler(500)
    def server_error(exc):
        return _respond(500, "An internal error occurred; it has been logged.")
