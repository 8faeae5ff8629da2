"""Validators for public pages: an ETag from the registry's change counter and the visitor's session, and 304s."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from flask import Response, current_app, g, make_response, request, session
from flask_babel import get_locale
from sqlalchemy import func, select

from registry.extensions import get_read_store
from registry.models import AuditEvent

# A page kept by a browser carries a form token and a tribute key; after this many seconds its validator
# changes anyway, so a revalidated page is never older than this (well inside any form-token lifetime).
FRESH_SECONDS = 600


def data_version() -> int:
    """The registry's change counter: every write adds its audit event in its own transaction, so the
    newest event's id moves whenever anything a page shows changes (a flower, an edit, an approval)."""
    store = get_read_store()
    if store.kind == "geopackage":
        with store.session() as db:
            return db.scalar(select(func.max(AuditEvent.id))) or 0
    # One statement on its own: no BEGIN and ROLLBACK round trips around it.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.scalar(select(func.max(AuditEvent.id))) or 0


def page_etag(version: int) -> str:
    """The validator of the page at this URL for this visitor: data, language, session and time window."""
    # The session decides what the page shows around the data (the signed-in user, the form token).
    visitor = json.dumps({k: v for k, v in session.items() if k != "_flashes"}, sort_keys=True, default=str)
    basis = "|".join((str(version), request.full_path, str(get_locale()), visitor,
                      str(int(time.time() // FRESH_SECONDS))))
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def conditional_page(render: Callable[[], object]) -> Response:
    """Answer 304 when the browser's copy is current; else ``render()`` with its ETag (200 answers only).

    The validator is computed before the page, from one cheap query, so a 304 costs no page work.
    Browsers must revalidate (``no-cache``) and shared caches must not keep the page (``private``).
    """
    if session.get("_flashes"):
        return make_response(render())  # a one-time message is shown once: never a validator
    version = g.data_version = data_version()
    etag = page_etag(version)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = make_response(render())
        if response.status_code != 200:
            return response
        # Rendering may have started the session (a form token): the next request will carry it.
        etag = page_etag(version)
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


def per_version(name: str, compute: Callable[[], object]):
    """``compute()`` once per registry change: kept with the change counter the page's validator read.

    For facts a page shows that only a write can change (whether demo records exist): a worker asks the
    store again only after the counter has moved. Outside ``conditional_page`` it simply computes.
    """
    version = g.get("data_version")
    if version is None:
        return compute()
    kept = current_app.extensions.setdefault("per_version", {})
    found = kept.get(name)
    if found is not None and found[0] == version:
        return found[1]
    value = compute()
    kept[name] = (version, value)
    return value
