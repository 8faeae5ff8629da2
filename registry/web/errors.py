"""Error pages and JSON errors, mapped in one place from the services' typed errors."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from registry.db import StoreError
from registry.services.base import ServiceError
from registry.web.gis.ogc_json import exception_response

# SQLite's words for a store that cannot take the request now but may later (another writer holds the
# lock past busy_timeout, the disk is full or failing, the file is gone): the visitor should retry.
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "disk i/o error",
                       "database or disk is full", "unable to open database file")
# PostgreSQL classes 08 (connection), 53 (insufficient resources: disk full, out of memory, too many
# connections) and 57P (operator intervention: shutdown, crash recovery) mean the same.
_PG_UNAVAILABLE = ("08", "53", "57P")
# A file the request writes (a photo, a scan) could not be written for lack of space.
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}

STORE_DOWN = "The registry's data store is unavailable at the moment (it may be restarting, busy or full). " \
             "Nothing was saved by this request; please try again shortly."
DISK_FULL = "The server has no room left to store files, so nothing was saved. Please try again later; " \
            "the administrators have been told."
STORE_DOWN_PAGE = lazy_gettext("数据存储暂时不可用（可能正在重启、繁忙或已满），本次请求未保存任何内容，请稍后重试。")
DISK_FULL_PAGE = lazy_gettext("服务器存储空间已满，本次提交未保存任何内容，请稍后重试；管理员已收到通知。")


def store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is down, locked or full (retry later), not that the request is wrong."""
    if isinstance(exc, PoolTimeout):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or getattr(exc, "is_disconnect", False)):
        return True
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).lower().startswith(_SQLITE_UNAVAILABLE)
    if isinstance(orig, psycopg.Error):
        state = getattr(orig, "sqlstate", None) or ""
        # A connection that failed or broke has no SQLSTATE of its own: it is the server being away.
        return (not state and isinstance(orig, psycopg.OperationalError)) or state.startswith(_PG_UNAVAILABLE)
    return False


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
    these; the app-wide handler answers in the same format with the machine API's renderer (``ogc_json``).
    """
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


def respond(status: int, message: str, field: str | None = None):
    if _wants_json():
        body = {"status": status, "message": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    template = f"errors/{status}.html" if status in (403, 404, 503) else "errors/500.html"
    if status in (400, 409, 413, 429):
        template = "errors/400.html"
    return render_template(template, message=message, status=status, field=field), status


def _is_lost_server(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    return isinstance(orig, psycopg.OperationalError) and not invalidated


def _unavailable(status: int, message: str, page_message):
    """The store is away: a plain 503 (or 507) that says to retry, with Retry-After, and no store access."""
    # The page's layout asks who is signed in, which would query the store again; nobody is, for this page.
    g.current_user = None
    try:
        if _is_ogc_path():
            response = exception_response(status, message)
        elif _wants_json():
            response = jsonify({"status": status, "message": message})
            response.status_code = status
        else:
            # The 503 page says "temporarily unavailable, try again", right for a full disk too.
            response = make_response(render_template("errors/503.html", message=str(page_message), status=status),
                                     status)
    except Exception:  # noqa: BLE001 - the page itself failed to render: plain text rather than a 500
        response = make_response(message, status, {"Content-Type": "text/plain; charset=utf-8"})
    response.headers["Retry-After"] = str(int(float(current_app.config.get("STORE_RETRY_AFTER") or 5)))
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    def store_down(exc):
        if not store_unavailable(exc):
            raise exc  # a real fault (a constraint, a bug): the 500 handler logs it with its traceback
        app.logger.warning("store unavailable on %s %s: %s", request.method, request.path,
                           str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__)
        if _is_lost_server(exc):
            # SQLAlchemy invalidates the pool itself when it recognises a disconnect; when it did not, drop
            # the pooled connections here (without closing those in use), so none from before a PostgreSQL
            # restart is handed out again. pool_pre_ping checks the new ones at checkout.
            from registry.extensions import get_store

            get_store().engine.dispose(close=False)
        return _unavailable(503, STORE_DOWN, STORE_DOWN_PAGE)

    for kind in (DBAPIError, PoolTimeout, sqlite3.OperationalError, psycopg.OperationalError):
        app.register_error_handler(kind, store_down)

    @app.errorhandler(OSError)
    def disk_full(exc: OSError):
        if exc.errno not in _DISK_FULL:
            raise exc
        app.logger.error("no space to write a file on %s %s: %s", request.method, request.path, exc)
        return _unavailable(507, DISK_FULL, DISK_FULL_PAGE)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if exc.status == 403:
            # A service refusing a county or a record: kept in the audit trail, as the rights table's refusals are.
            from registry.web.system.auth import audit_forbidden

            audit_forbidden(exc.message)
        return respond(exc.status, exc.message, exc.field)

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError):
        return respond(503, str(exc))

    def http_error(exc):
        if _is_ogc_path():
            return _ogc_routing_error(exc)
        # Werkzeug's stock English description would show on Chinese pages: pass only our own messages.
        own = exc.description if exc.description != type(exc).description else ""
        return respond(exc.code, own)

    for status in (400, 403, 404, 405):
        app.register_error_handler(status, http_error)

    @app.errorhandler(413)
    def too_large(exc):
        limit = round((app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024), 2)
        return respond(413, f"The upload is larger than the {limit:g} MB this registry accepts; "
                             "nothing was saved. Split the file or send a smaller one.")

    @app.errorhandler(500)
    def server_error(exc):
        return respond(500, "An internal error occurred; it has been logged.")
