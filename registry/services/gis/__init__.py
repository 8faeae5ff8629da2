"""Use cases of the GIS area.

- ``ogc``: OGC API – Features collections, items, CQL2, schema and tiles (per-store SQL behind one interface);
- ``exports``: CSV, XLSX, GeoJSON, GeoPackage and KML; ``files``: reading an uploaded GIS file;
- ``imports``: the GIS import of facilities and tombs; ``tokens``: API tokens for clients.
"""
