"""The GIS area: OGC API – Features, vector tiles and the GIS import, for QGIS, GDAL and other clients.

- ``ogc``: blueprint ``ogc`` (``/ogc``), collections and items in HTML, JSON and exports;
- ``ogc_json``: the OGC JSON answer and exception document shared with ``web.errors``;
- ``openapi``: the API's OpenAPI document;
- ``tiles``: blueprint ``tiles`` (``/tiles/<collection>/<z>/<x>/<y>.mvt``);
- ``imports``: blueprint ``gis_import`` (``/gis/import``), preview and commit;
- ``edits``: blueprint ``gis_edits`` (``/gis/edits``), edits made in QGIS: export, upload, approve.
"""
