"""Edits made in QGIS: export a county's layer, upload it back edited, and let a second person decide each row."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, redirect, render_template, request, url_for

from registry import uploads as staging
from registry.extensions import db_session, get_store
from registry.services import divisions
from registry.services.base import InvalidInput
from registry.services.gis import edits as service
from registry.services.gis import edits_apply
from registry.web.system.auth import current_actor, role_required

bp = Blueprint("gis_edits", __name__, url_prefix="/gis/edits")
EDITORS = service.EDITORS


def _index(status: int = 200, **values):
    actor = current_actor()
    counties = {code: name for code, (name, _lon, _lat) in divisions.counties(db_session()).items()
                if service.may_edit(actor, code)}
    return render_template("gis/edits.html", counties=counties, layers=service.LAYERS,
                           batches=edits_apply.batches(get_store(), actor), **values), status


@bp.get("")
@role_required(*EDITORS)
def index():
    """Export a layer for QGIS, upload an edited one, and the latest batches."""
    return _index()


@bp.post("/export")
@role_required(*EDITORS)
def export():
    """The county's layer as a GeoPackage that carries each row's id and version and the export's record."""
    data, filename, _batch = service.export_layer(get_store(), current_actor(), request.form.get("county", ""),
                                                  request.form.get("layer", "facilities"))
    response = Response(data, mimetype="application/geopackage+sqlite3")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.post("/upload")
@role_required(*EDITORS)
def upload():
    """Read an edited export back: its differences become provisional edits, or the refusal is named."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return _index(400, error=InvalidInput("choose the edited GeoPackage (.gpkg) to upload", field="file"))
    filename = Path(file.filename).name
    limits = staging.limits()
    try:
        data = file.stream.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise staging.too_large(filename, limits.max_bytes)
        batch_id = service.upload_edits(get_store(), current_actor(), data, filename, limits)
    except InvalidInput as exc:
        return _index(exc.status, error=exc, filename=filename)
    finally:
        file.close()
    return redirect(url_for("gis_edits.batch", edit_batch_id=batch_id), 303)


@bp.get("/<int:edit_batch_id>")
@role_required(*EDITORS)
def batch(edit_batch_id: int):
    """Each row's changes (field: old -> new; the point moved N m), to approve or decline."""
    view = edits_apply.batch_view(get_store(), current_actor(), edit_batch_id)
    return render_template("gis/edits_batch.html", view=view, county=divisions.label(view.batch.county_code))


@bp.post("/<int:edit_batch_id>/decide")
@role_required(*EDITORS)
def decide(edit_batch_id: int):
    """Approve or decline one edit (``edit_id``) or every pending one; the uploader may not."""
    raw = request.form.get("edit_id", "")
    if raw and not raw.isdigit():
        raise InvalidInput(f"edit_id {raw!r} is not a number", field="edit_id")
    edits_apply.decide(get_store(), current_actor(), edit_batch_id, request.form.get("decision", ""),
                       int(raw) if raw else None, request.form.get("reason", ""))
    return redirect(url_for("gis_edits.batch", edit_batch_id=edit_batch_id), 303)
