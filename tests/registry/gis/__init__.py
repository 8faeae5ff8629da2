"""Tests of the GIS area: OGC API, vector tiles, API tokens, exports and imports of GIS files."""
