"""folium map builders: base maps, controls and locally served assets, with neither Flask nor a database."""

from maps.assets import UnknownAssetError, asset_url, use_local_assets
from maps.basemaps import Basemap, BasemapConfigError, TileSpec, add_basemap, basemap_from_settings
from maps.shell import MapParts, MetricScale, build_overview_map, render_parts

__all__ = [
    "Basemap",
    "BasemapConfigError",
    "MapParts",
    "MetricScale",
    "TileSpec",
    "UnknownAssetError",
    "add_basemap",
    "asset_url",
    "basemap_from_settings",
    "build_overview_map",
    "render_parts",
    "use_local_assets",
]
