"""Staff page to import facilities and tombs from GIS files and spreadsheets: upload, dry-run preview, confirm."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry import uploads as staging
from registry.extensions import get_store
from registry.services.base import InvalidInput
from registry.services.gis import imports as service
from registry.services.gis.files import format_for
from registry.web.system.auth import current_actor, role_required

bp = Blueprint("gis_import", __name__, url_prefix="/gis/import")

KIND_LABELS = (("facilities", _l("纪念设施")), ("tombs", _l("烈士墓")))
CRS_LABELS = {"EPSG:4326": "WGS 84 (EPSG:4326)", "EPSG:4490": "CGCS2000 (EPSG:4490)",
              "GCJ-02": "GCJ-02", "BD-09": "BD-09"}


def _options(form) -> dict:
    kind = form.get("kind", "facilities")
    if kind not in service.KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(service.KINDS)}", field="kind")
    crs = form.get("crs", "EPSG:4326")
    if crs not in service.CRS_CHOICES:
        raise InvalidInput(f"coordinate system {crs!r} is not one of {', '.join(service.CRS_CHOICES)}", field="crs")
    return {"kind": kind, "crs": crs, "layer": form.get("layer") or None}


def _save_upload() -> tuple[str, str]:
    """Stage the uploaded file under its SHA-256 (instance/gis-imports); return (token, file name)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(_("请选择要导入的文件。"), field="file")
    filename = Path(upload.filename).name
    format_for(filename)  # refuse an unknown kind of file before keeping it
    limit = staging.limits().max_bytes
    try:
        # Streamed to disk in chunks under the limit: the upload is never held in memory whole.
        return staging.gis_imports().save(upload.stream, max_bytes=limit), filename
    except staging.TooLarge:
        raise staging.too_large(filename, limit) from None
    finally:
        upload.close()


def _page(status: int = 200, **values):
    values.setdefault("options", {"kind": "facilities", "crs": "EPSG:4326", "layer": None})
    return render_template("gis/import.html", kinds=KIND_LABELS, crs_labels=CRS_LABELS,
                           required=service.REQUIRED, **values), status


@bp.get("")
@role_required(*service.IMPORTERS)
def form():
    """The upload form."""
    return _page()


def _run(dry_run: bool):
    options, token, filename = {"kind": "facilities", "crs": "EPSG:4326", "layer": None}, "", ""
    try:
        options = _options(request.form)
        if request.form.get("token"):
            token, filename = request.form["token"], Path(request.form.get("filename", "")).name
        else:
            token, filename = _save_upload()
        staged = staging.gis_imports().path(token)
        report = service.import_features(get_store(), current_actor(), options["kind"], staged,
                                         format_for(filename), dry_run=dry_run, layer=options["layer"],
                                         crs=options["crs"], filename=filename, limits=staging.limits())
        if not dry_run and report.ok:
            # Committed: the original file is kept for good in instance/gis-imports/imported/<sha256>.
            staging.gis_imports().archive(token)
    except InvalidInput as exc:
        # A file-level refusal (empty, unreadable, no lon/lat, a layer to choose): named on the same page.
        layers = exc.errors if exc.field == "layer" else []
        return _page(exc.status, options=options, token=token if layers else "", filename=filename, file_error=exc,
                     layers=layers)
    return _page(200, options=options, token=token, filename=filename, report=report)


@bp.post("/preview")
@role_required(*service.IMPORTERS)
def preview():
    """The dry run: every row's problems; nothing is written."""
    return _run(dry_run=True)


@bp.post("/commit")
@role_required(*service.IMPORTERS)
def commit():
    """Import a file whose dry run was clean: all new rows or none; rows already present are skipped."""
    return _run(dry_run=False)
