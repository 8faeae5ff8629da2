"""The ledger import pages (``/relocations/import``): upload, dry run, column decisions, commit with progress.

Routes on the ``relocations`` blueprint (``blueprint.bp``); the import itself is ``services.relocations.ledger``.
"""

from __future__ import annotations

import json
import queue
import threading

from flask import Response, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from registry import uploads as staging
from registry.extensions import get_store
from registry.files.ledger import FIELDS, MAX_BYTES, LedgerError, sniff
from registry.services import InvalidInput, ServiceError
from registry.services.relocations import ledger as imports
from registry.web.relocations.blueprint import CRS_CHOICES, READERS, WRITERS, bp
from registry.web.system.auth import current_actor, role_required


@bp.get("/import")
@role_required(*WRITERS)
def import_form():
    """Upload a ledger for a dry run."""
    return render_template("relocations/import.html", crs_choices=CRS_CHOICES,
                           mappings=imports.list_mappings(get_store()),
                           batches=imports.list_batches(get_store(), current_actor()), fields=FIELDS)


def _ledger_max_bytes() -> int:
    """REGISTRY_LEDGER_MAX_MB (200 by default, never more than the reader's own MAX_BYTES)."""
    value = current_app.config.get("LEDGER_MAX_MB")
    return min(int(float(value) * 1024 * 1024), MAX_BYTES) if value not in (None, "") else MAX_BYTES


def _store_upload() -> tuple[str, str, str | None]:
    """Stream the upload into staging under its SHA-256 (refusing more than the limit); return (token, name, error)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(_("请选择台账文件（XLSX 或 CSV）。"), field="file")
    limit = _ledger_max_bytes()
    try:
        token = staging.ledger_uploads().save(upload.stream, max_bytes=limit)
    except staging.TooLarge:
        return "", upload.filename, (
            f"{upload.filename} is more than {limit // 1024 // 1024} MB, the most a ledger may be; "
            "split it by county or batch and import each part")
    finally:
        upload.close()
    return token, upload.filename, None


def _mapping_from(form) -> tuple[dict, str]:
    text = form.get("mapping", "")
    mapping = {}
    saved = form.get("saved_mapping", "")
    if saved:
        mapping.update(imports.get_mapping(get_store(), saved))
    mapping.update(imports.parse_mapping_text(text))
    # The dry run's column decisions: each column proposed or not used, confirmed as a field or ignored ("-").
    decided = False
    for header, choice in zip(form.getlist("column_header"), form.getlist("column_field"), strict=False):
        if not choice:
            continue  # left undecided: the next dry run asks again
        if choice != "-" and choice not in FIELDS:
            raise InvalidInput(f"column {header!r}: {choice!r} is not a ledger field", field="column_field")
        mapping[header] = "" if choice == "-" else choice
        decided = True
    if decided or not text:
        text = "\n".join(f"{k}={v}" for k, v in mapping.items())
    return mapping, text


def _crs(form) -> str:
    crs = form.get("crs", "EPSG:4326")
    if crs not in dict(CRS_CHOICES):
        raise InvalidInput(f"coordinate system {crs!r} is not one of {', '.join(dict(CRS_CHOICES))}", field="crs")
    return crs


@bp.post("/import/preview")
@role_required(*WRITERS)
def import_preview():
    """The dry run: every row's errors and warnings; nothing is written."""
    limit = _ledger_max_bytes() + 1024 * 1024
    crs = _crs(request.form if (request.content_length or 0) <= limit else {})
    if request.content_length and request.content_length > limit:
        # Refused from the declared length, before the body is read or parsed.
        message = (f"the upload is {request.content_length / 1024 / 1024:,.0f} MB, more than the "
                   f"{_ledger_max_bytes() // 1024 // 1024} MB a ledger may be; split it by county or batch and "
                   "import each part")
        return _render_preview(None, "", "", crs, "", file_error=message), 413
    mapping, mapping_text = _mapping_from(request.form)
    if request.form.get("token"):
        token, filename, error = request.form["token"], request.form.get("filename", "ledger"), None
        staging.ledger_uploads().path(token)
    else:
        token, filename, error = _store_upload()
    if error:  # only ever the size limit
        return _render_preview(None, "", filename, crs, mapping_text, file_error=error), 413
    path = staging.ledger_uploads().path(token)
    try:
        with path.open("rb") as fh:
            sniff(fh.read(4096), filename)
    except LedgerError as exc:
        return _render_preview(None, token, filename, crs, mapping_text, file_error=str(exc)), 400
    result = imports.preview(get_store(), path, filename, crs, mapping)
    if request.form.get("save_mapping_as"):
        imports.save_mapping(get_store(), current_actor(), request.form["save_mapping_as"], mapping)
        flash(_("列映射已保存：%(name)s", name=request.form["save_mapping_as"]))
    return _render_preview(result, token, filename, crs, mapping_text), 400 if result.file_error else 200


def _render_preview(result, token, filename, crs, mapping_text, file_error=None):
    columns = result.ledger.columns if result is not None and result.ledger is not None else []
    return render_template("relocations/preview.html", result=result, token=token, filename=filename, crs=crs,
                           crs_choices=CRS_CHOICES, mapping_text=mapping_text, file_error=file_error or
                           (result.file_error if result else None), fields=FIELDS,
                           mappings=imports.list_mappings(get_store()), columns=columns)


@bp.post("/import/commit")
@role_required(*WRITERS)
def import_commit():
    """Import a ledger whose dry run was clean: all rows or none; progress streams to the page."""
    uploads, token = staging.ledger_uploads(), request.form.get("token", "")
    path = uploads.path(token)
    filename = request.form.get("filename", "ledger")
    crs = _crs(request.form)
    mapping, _text = _mapping_from(request.form)
    store, actor = get_store(), current_actor()
    if "application/x-ndjson" not in request.headers.get("Accept", ""):
        result = imports.run_import(store, actor, path, filename, crs, mapping)
        # Committed (or found imported before): the original is kept in ledger-uploads/imported/<content_hash>.
        uploads.archive(token)
        again = 1 if result.already_imported else None
        return redirect(url_for(".import_batch", batch_id=result.batch_id, again=again))
    messages: queue.Queue = queue.Queue()
    phases = {"read": _("读取"), "check": _("核对"), "write": _("写入")}

    def work():
        try:
            result = imports.run_import(store, actor, path, filename, crs, mapping,
                                        progress=lambda phase, done, total: messages.put(
                                            {"phase": phases.get(phase, phase), "done": done, "total": total}))
            again = "?again=1" if result.already_imported else ""
            try:
                uploads.archive(token)
            except OSError:  # the rows are in: say so, and leave the unarchived file to the log
                current_app.logger.exception("ledger %s was imported but could not be archived", token)
            messages.put({"url": f"/relocations/import/{result.batch_id}{again}"})
        except ServiceError as exc:
            messages.put({"error": exc.message})
        except Exception as exc:  # noqa: BLE001 - the page must hear that the import failed
            current_app.logger.exception("ledger import failed")
            messages.put({"error": f"import failed: {exc}"})
        finally:
            messages.put(None)

    app = current_app._get_current_object()

    def run():
        with app.app_context():
            work()

    threading.Thread(target=run, name="ledger-import", daemon=True).start()

    def stream():
        while (message := messages.get()) is not None:
            yield json.dumps(message, ensure_ascii=False) + "\n"

    return Response(stream_with_context(stream()), mimetype="application/x-ndjson")


@bp.get("/import/<int:batch_id>")
@role_required(*READERS)
def import_batch(batch_id: int):
    """What one import added."""
    batch = imports.get_batch(get_store(), current_actor(), batch_id)
    return render_template("relocations/batch.html", batch=batch, again=bool(request.args.get("again")))


@bp.post("/import/mappings")
@role_required(*WRITERS)
def save_mapping():
    """Save a named column mapping."""
    mapping = imports.parse_mapping_text(request.form.get("mapping", ""))
    imports.save_mapping(get_store(), current_actor(), request.form.get("name", ""), mapping)
    flash(_("列映射已保存：%(name)s", name=request.form.get("name", "")))
    return redirect(url_for(".import_form"))
