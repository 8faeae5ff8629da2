"""Error pages and JSON errors, mapped in one place from the services' typed errors."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from registry.db import StoreError
from registry.services.base import ServiceError


def _wants_json() -> bool:
    return request.path.startswith(("/api", "/healthz", "/ogc")) or request.accept_mimetypes.best == "application/json"


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
        return _respond(exc.status, exc.message, exc.field)

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError):
        return _respond(503, str(exc))

    def http_error(exc):
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
