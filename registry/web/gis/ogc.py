"""OGC API – Features at /ogc: landing, conformance, OpenAPI, collections, items, queryables and exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from geodata import cql2
from registry.extensions import db_session, get_store
from registry.services.base import Actor, InvalidInput, ServiceError
from registry.services.gis import exports
from registry.services.gis.ogc.collections import Collection, Unauthorized, get_collection, readable_collections
from registry.services.gis.ogc.items import extent, item
from registry.services.gis.ogc.items import items as items_page
from registry.services.gis.ogc.parameters import CRS, CRS84, ITEM_PARAMS, check_params, parse_crs, parse_items_query
from registry.services.gis.ogc.schema import schema as collection_schema
from registry.services.gis.ogc.tiles import tile_collections
from registry.services.gis.tokens import actor_for_token
from registry.web.gis.ogc_json import exception_response, json_response
from registry.web.gis.openapi import openapi_document
from registry.web.system.auth import current_user

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
)
GEOJSON = "application/geo+json"
EXPORT_FORMATS = ("gpkg", "shp", "kml", "csv", "xlsx")


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    if exc.status == 403:
        from registry.web.system.auth import audit_forbidden

        audit_forbidden(exc.message)  # a collection refused by role: audited like every refusal
    return exception_response(exc.status, exc.message, exc.field)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return exception_response(exc.code or 500, exc.description or exc.name)


def base_url() -> str:
    return url_for("ogc.landing", _external=True).rstrip("/")


def request_actor() -> Actor | None:
    """The caller: an API token (Authorization: Bearer …), else the signed-in user, else nobody."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'", field="Authorization")
        actor = actor_for_token(get_store(), token.strip())
        if actor is None:
            raise Unauthorized("the API token is unknown, revoked or expired", field="Authorization")
        return actor
    user = current_user()
    if user is None:
        return None
    from registry.services.users import as_actor

    return as_actor(user, get_store())


def _args() -> dict:
    return request.args.to_dict(flat=False)


def _format(allowed: tuple[str, ...] = ("json", "html")) -> str:
    """The format asked for: ``f`` wins, else the Accept header (HTML only when preferred to JSON)."""
    fmt = request.args.get("f")
    if fmt is not None:
        fmt = "json" if fmt == "geojson" else fmt
        if fmt not in allowed:
            raise InvalidInput(f"f {fmt!r} is not offered here; use one of {', '.join(allowed)}", field="f")
        return fmt
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON, "text/html"])
    return "html" if best == "text/html" and "html" in allowed else "json"


def _link(href: str, rel: str, mtype: str, title: str = "") -> dict:
    link = {"href": href, "rel": rel, "type": mtype}
    if title:
        link["title"] = title
    return link


def _self_links(endpoint: str, json_type: str = "application/json", **values) -> list[dict]:
    fmt = _format()
    here = url_for(endpoint, _external=True, **values)
    json_link = _link(here + "?f=json", "self" if fmt == "json" else "alternate", json_type, "JSON")
    html_link = _link(here + "?f=html", "self" if fmt == "html" else "alternate", "text/html", "HTML")
    return [json_link, html_link]


@bp.get("")
@bp.get("/")
def landing():
    """The landing page."""
    check_params(_args(), {"f", "lang"})
    base = base_url()
    body = {
        "title": "烈士纪念设施管理信息系统 Memorial Facility Registry",
        "description": "Martyr memorial facilities, tombs, relocations and red heritage sites of the registry "
                       "(positions of the demo data are approximate).",
        "links": _self_links("ogc.landing") + [
            _link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0", "OpenAPI"),
            _link(f"{base}/api?f=html", "service-doc", "text/html", "API documentation"),
            _link(f"{base}/conformance", "conformance", "application/json", "Conformance"),
            _link(f"{base}/collections", "data", "application/json", "Collections"),
        ],
    }
    if _format() == "html":
        return render_template("ogc/landing.html", body=body)
    return json_response(body)


@bp.get("/conformance")
def conformance():
    """The conformance classes the server implements."""
    check_params(_args(), {"f", "lang"})
    body = {"conformsTo": list(CONFORMANCE)}
    if _format() == "html":
        return render_template("ogc/conformance.html", body=body)
    return json_response(body)


@bp.get("/api")
def api():
    """The OpenAPI 3.0 document of the whole API."""
    check_params(_args(), {"f", "lang"})
    document = openapi_document(base_url(), request.host_url.rstrip("/"))
    if _format() == "html":
        return render_template("ogc/api.html", document=document)
    return json_response(document, mimetype="application/vnd.oai.openapi+json;version=3.0")


def _collection_body(collection: Collection, session) -> dict:
    base = base_url()
    cid = collection.id
    links = [
        _link(f"{base}/collections/{cid}?f=json", "self", "application/json", collection.title_en),
        _link(f"{base}/collections/{cid}?f=html", "alternate", "text/html", collection.title_en),
        _link(f"{base}/collections/{cid}/items?f=json", "items", GEOJSON, "Features"),
        _link(f"{base}/collections/{cid}/items?f=html", "items", "text/html", "Features (HTML)"),
        _link(f"{base}/collections/{cid}/schema", "describedby", "application/schema+json", "Schema"),
        _link(f"{base}/collections/{cid}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
              "application/schema+json", "Queryables"),
    ]
    for fmt in EXPORT_FORMATS:
        links.append(_link(f"{base}/collections/{cid}/items?f={fmt}", "enclosure",
                           exports.FORMATS[fmt].media_type, f"Export: {exports.FORMATS[fmt].label}"))
    if collection in tile_collections():
        links.append(_link(url_for("tiles.tilejson", collection_id=cid, _external=True), "tiles",
                           "application/json", "TileJSON (Mapbox vector tiles)"))
    body = {
        "id": cid,
        "title": f"{collection.title} {collection.title_en}",
        "description": collection.description,
        "itemType": "feature",
        "links": links,
        "extent": extent(session, get_store(), collection),
    }
    if collection.has_geometry:
        body["crs"] = list(CRS)
        body["storageCrs"] = CRS84
    if not collection.public:
        body["access"] = "staff"
    return body


@bp.get("/collections")
def collections():
    """The collections the caller may read."""
    check_params(_args(), {"f", "lang"})
    actor = request_actor()
    session = db_session()
    body = {
        "links": _self_links("ogc.collections"),
        "collections": [_collection_body(c, session) for c in readable_collections(actor)],
        "crs": list(CRS),
    }
    if _format() == "html":
        return render_template("ogc/collections.html", body=body)
    return json_response(body)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection's description."""
    check_params(_args(), {"f", "lang"})
    coll = get_collection(collection_id, request_actor())
    body = _collection_body(coll, db_session())
    if _format() == "html":
        return render_template("ogc/collection.html", body=body)
    return json_response(body)


def _schema_response(collection_id: str, queryable_only: bool):
    check_params(_args(), {"f", "lang"})
    coll = get_collection(collection_id, request_actor())
    body = collection_schema(coll, base_url(), queryable_only=queryable_only)
    if _format() == "html":
        return render_template("ogc/schema.html", body=body, collection_id=collection_id)
    return json_response(body, mimetype="application/schema+json")


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    """The properties a filter may name (JSON Schema)."""
    return _schema_response(collection_id, True)


@bp.get("/collections/<collection_id>/schema")
def schema(collection_id: str):
    """The schema of the collection's features (JSON Schema)."""
    return _schema_response(collection_id, False)


def _crs_header(response: Response, crs: str) -> Response:
    response.headers["Content-Crs"] = f"<{crs}>"
    return response


def _page_url(collection_id: str, offset: int, fmt: str) -> str:
    args = request.args.to_dict(flat=True)
    args["offset"] = str(offset)
    args["f"] = fmt
    return url_for("ogc.items", collection_id=collection_id, _external=True, **args)


def _filter_limits() -> tuple[int, int]:
    """The CQL2 filter's nesting depth and number of conditions allowed (REGISTRY_CQL2_MAX_DEPTH, _MAX_TERMS)."""
    config = current_app.config
    return (int(float(config.get("CQL2_MAX_DEPTH") or cql2.MAX_DEPTH)),
            int(float(config.get("CQL2_MAX_TERMS") or cql2.MAX_TERMS)))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """Features of a collection: bbox, datetime, CQL2 filter, paging; GeoJSON, HTML or an export file."""
    coll = get_collection(collection_id, request_actor())
    fmt = _format(("json", "html") + EXPORT_FORMATS)
    session = db_session()
    limits = _filter_limits()
    if fmt in EXPORT_FORMATS:
        query = parse_items_query(coll, _args(), unlimited=True, filter_limits=limits)
        max_rows = int(float(current_app.config.get("EXPORT_MAX_ROWS") or exports.MAX_ROWS))
        data, filename, media_type = exports.export_collection(get_store(), session, coll, query, fmt, max_rows)
        response = Response(data, mimetype=media_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    query = parse_items_query(coll, _args(), filter_limits=limits)
    page = items_page(get_store(), session, coll, query, as_json=fmt == "json")
    links = [
        _link(_page_url(collection_id, page.offset, "json"), "self" if fmt == "json" else "alternate", GEOJSON),
        _link(_page_url(collection_id, page.offset, "html"), "self" if fmt == "html" else "alternate", "text/html"),
        _link(url_for("ogc.collection", collection_id=collection_id, _external=True), "collection",
              "application/json"),
    ]
    if page.has_next:
        links.append(_link(_page_url(collection_id, page.offset + page.limit, fmt), "next",
                           GEOJSON if fmt == "json" else "text/html"))
    if page.offset > 0:
        links.append(_link(_page_url(collection_id, max(page.offset - page.limit, 0), fmt), "prev",
                           GEOJSON if fmt == "json" else "text/html"))
    body = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
        "features": page.features,
    }
    if fmt == "html":
        response = Response(render_template("ogc/items.html", body=body, collection=coll, page=page))
    elif page.features_json is not None:
        # The database wrote the features array: splice its text in as the last member of the document.
        del body["features"]
        head = json.dumps(body, ensure_ascii=False, default=str)
        response = Response(f'{head[:-1]}, "features": {page.features_json}}}', mimetype=GEOJSON)
    else:
        response = json_response(body, mimetype=GEOJSON)
    return _crs_header(response, page.crs)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def feature(collection_id: str, feature_id: str):
    """One feature."""
    coll = get_collection(collection_id, request_actor())
    check_params(_args(), ITEM_PARAMS)
    crs = parse_crs(request.args.get("crs"))
    body = item(db_session(), coll, feature_id, crs)
    here = url_for("ogc.feature", collection_id=collection_id, feature_id=feature_id, _external=True)
    fmt = _format()
    body["links"] = [
        _link(here + "?f=json", "self" if fmt == "json" else "alternate", GEOJSON),
        _link(here + "?f=html", "self" if fmt == "html" else "alternate", "text/html"),
        _link(url_for("ogc.collection", collection_id=collection_id, _external=True), "collection",
              "application/json"),
    ]
    if fmt == "html":
        response = Response(render_template("ogc/item.html", feature=body, collection=coll))
    else:
        response = json_response(body, mimetype=GEOJSON)
    return _crs_header(response, crs)
