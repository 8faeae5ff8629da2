"""folium's script and stylesheet names mapped to the copies the application serves under /static/vendor."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from branca.element import Element

VENDOR_URL = "/static/vendor"

# folium resource name -> file under the vendor folder (scripts/install_assets.py puts it there).
# folium names its resources consistently across elements ("leaflet", "jquery", ...), so keying on the
# name keeps working when a folium release bumps the CDN version inside the URL.
LOCAL_ASSETS: dict[str, str] = {
    # folium.Map
    "leaflet": "leaflet/leaflet.js",
    "jquery": "jquery/jquery.min.js",
    "bootstrap": "bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "leaflet.awesome-markers/leaflet.awesome-markers.js",
    "leaflet_css": "leaflet/leaflet.css",
    "bootstrap_css": "bootstrap/css/bootstrap.min.css",
    "glyphicons_css": "glyphicons/css/glyphicons.css",
    "awesome_markers_font_css": "fontawesome-free/css/all.min.css",
    "awesome_markers_css": "leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": "folium/leaflet.awesome.rotate.css",
    # folium.plugins.MarkerCluster
    "markerclusterjs": "leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/MarkerCluster.Default.css",
    # maps.drawing.DrawOutline, under the names folium.plugins.GeoMan uses too
    "leaflet_geoman_js": "leaflet-geoman-free/leaflet-geoman.min.js",
    "leaflet_geoman_css": "leaflet-geoman-free/leaflet-geoman.css",
}


class UnknownAssetError(ValueError):
    """An element asks for a remote script or stylesheet that the application does not serve itself."""


def asset_url(name: str, base_url: str = VENDOR_URL, versions: Mapping[str, str] | None = None) -> str:
    """The local URL of one of folium's named resources.

    Parameters
    ----------
    name : str
        The name folium gives the resource in ``default_js`` or ``default_css`` (``"leaflet"``,
        ``"leaflet_css"``, ``"markerclusterjs"``, ...).
    base_url : str, default "/static/vendor"
        Where the application serves the vendor folder.
    versions : Mapping of str to str, optional
        A fingerprint per vendor path (a prefix of the file's SHA-256); when the file has one, the URL
        carries it as ``?v=…``, so the URL changes whenever the file does and may be cached for a year.

    Returns
    -------
    str
        A root-relative URL such as ``/static/vendor/leaflet/leaflet.js``.

    Raises
    ------
    UnknownAssetError
        When no local copy is known for ``name``.

    Examples
    --------
    >>> asset_url("leaflet")
    '/static/vendor/leaflet/leaflet.js'
    >>> asset_url("leaflet_css", base_url="/map-assets")
    '/map-assets/leaflet/leaflet.css'
    >>> asset_url("leaflet", versions={"leaflet/leaflet.js": "0123abcd"})
    '/static/vendor/leaflet/leaflet.js?v=0123abcd'
    """
    try:
        path = LOCAL_ASSETS[name]
    except KeyError:
        raise UnknownAssetError(
            f"no local copy of the folium resource {name!r}: add its npm package to package.json, "
            "its files to scripts/install_assets.py and its name to maps.assets.LOCAL_ASSETS"
        ) from None
    version = (versions or {}).get(path)
    return f"{base_url.rstrip('/')}/{path}" + (f"?v={version}" if version else "")


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _is_local(url: str, base_url: str) -> bool:
    # A root-relative URL ("/static/js/x.js") is served by this application, like the vendor folder.
    return url.startswith(base_url.rstrip("/") + "/") or (url.startswith("/") and not url.startswith("//"))


def _localized(element: Element, links: list[tuple[str, str]], base_url: str,
               versions: Mapping[str, str] | None) -> list[tuple[str, str]]:
    result = []
    for name, url in links:
        if _is_local(url, base_url):
            result.append((name, url))
            continue
        try:
            result.append((name, asset_url(name, base_url, versions)))
        except UnknownAssetError as exc:
            raise UnknownAssetError(f"{type(element).__name__} loads {url}: {exc}") from None
    return result


def use_local_assets(element: Element, base_url: str = VENDOR_URL,
                     versions: Mapping[str, str] | None = None) -> Element:
    """Point every script and stylesheet of ``element`` and its descendants at the local copies.

    Call it on a finished map, after every layer and plugin has been added (``render_parts`` does),
    so that the rendered page loads nothing from another host.

    Parameters
    ----------
    element : branca.element.Element
        A ``folium.Map`` (or any element); its whole subtree is visited.
    base_url : str, default "/static/vendor"
        Where the application serves the vendor folder.
    versions : Mapping of str to str, optional
        Fingerprints per vendor path, added to the URLs (see :func:`asset_url`).

    Returns
    -------
    branca.element.Element
        ``element`` itself, so the call can be chained.

    Raises
    ------
    UnknownAssetError
        When an element asks for a remote resource with no local copy; the message names the
        element and the URL, so a new plugin cannot silently bring a CDN link back.

    Examples
    --------
    >>> import folium
    >>> m = use_local_assets(folium.Map(tiles=None))
    >>> html = m.get_root().render()
    >>> "cdn.jsdelivr.net" in html, "/static/vendor/leaflet/leaflet.js" in html
    (False, True)
    """
    for node in _walk(element):
        for attribute in ("default_js", "default_css"):
            links = getattr(node, attribute, None)
            if links:
                # An instance attribute, never an in-place edit: folium's lists are class attributes
                # shared by every map in the process (and JSCSSMixin.add_js_link mutates them).
                setattr(node, attribute, _localized(node, list(links), base_url, versions))
    return element


def vendor_paths() -> list[str]:
    """Every vendor file the maps may reference, relative to the vendor folder.

    Returns
    -------
    list of str
        Sorted paths such as ``leaflet/leaflet.js``.

    Examples
    --------
    >>> "leaflet/leaflet.css" in vendor_paths()
    True
    """
    return sorted(set(LOCAL_ASSETS.values()))
