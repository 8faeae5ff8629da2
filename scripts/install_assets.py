"""Copy the browser assets the registry serves itself from node_modules into registry/static/vendor."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NODE_MODULES = ROOT / "node_modules"
DEFAULT_DEST = ROOT / "registry" / "static" / "vendor"
LOCKFILE = ROOT / "package-lock.json"
STAMP_NAME = ".stamp"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Copy:
    """One file taken from an npm package: ``source`` inside the package, ``target`` inside vendor/."""

    package: str
    source: str
    target: str


# Exactly the files the pages load, plus each package's licence (MIT, ISC and OFL ask that the notice
# travels with the files). CSS url() references are relative, so each package keeps the layout its
# stylesheet expects (leaflet/images/, fontawesome-free/webfonts/, ...).
COPIES: tuple[Copy, ...] = (
    Copy("leaflet", "dist/leaflet.js", "leaflet/leaflet.js"),
    Copy("leaflet", "dist/leaflet.css", "leaflet/leaflet.css"),
    *(Copy("leaflet", f"dist/images/{name}", f"leaflet/images/{name}") for name in (
        "layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")),
    Copy("leaflet", "LICENSE", "leaflet/LICENSE"),
    Copy("leaflet.markercluster", "dist/leaflet.markercluster.js", "leaflet.markercluster/leaflet.markercluster.js"),
    Copy("leaflet.markercluster", "dist/MarkerCluster.css", "leaflet.markercluster/MarkerCluster.css"),
    Copy("leaflet.markercluster", "dist/MarkerCluster.Default.css", "leaflet.markercluster/MarkerCluster.Default.css"),
    Copy("leaflet.markercluster", "MIT-LICENCE.txt", "leaflet.markercluster/LICENSE"),
    Copy("leaflet.awesome-markers", "dist/leaflet.awesome-markers.js",
         "leaflet.awesome-markers/leaflet.awesome-markers.js"),
    Copy("leaflet.awesome-markers", "dist/leaflet.awesome-markers.css",
         "leaflet.awesome-markers/leaflet.awesome-markers.css"),
    *(Copy("leaflet.awesome-markers", f"dist/images/{name}", f"leaflet.awesome-markers/images/{name}") for name in (
        "markers-soft.png", "markers-soft@2x.png", "markers-shadow.png", "markers-shadow@2x.png")),
    Copy("leaflet.awesome-markers", "LICENSE", "leaflet.awesome-markers/LICENSE"),
    # The planners' drawing tools. Its stylesheet's icons are inline data: URIs, so nothing else is needed.
    Copy("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.min.js", "leaflet-geoman-free/leaflet-geoman.min.js"),
    Copy("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.css", "leaflet-geoman-free/leaflet-geoman.css"),
    Copy("@geoman-io/leaflet-geoman-free", "LICENSE", "leaflet-geoman-free/LICENSE"),
    Copy("jquery", "dist/jquery.min.js", "jquery/jquery.min.js"),
    Copy("jquery", "LICENSE.txt", "jquery/LICENSE"),
    Copy("bootstrap", "dist/js/bootstrap.bundle.min.js", "bootstrap/js/bootstrap.bundle.min.js"),
    Copy("bootstrap", "dist/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
    Copy("bootstrap", "LICENSE", "bootstrap/LICENSE"),
    Copy("@fortawesome/fontawesome-free", "css/all.min.css", "fontawesome-free/css/all.min.css"),
    *(Copy("@fortawesome/fontawesome-free", f"webfonts/{name}.{ext}", f"fontawesome-free/webfonts/{name}.{ext}")
      for name in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
      for ext in ("woff2", "ttf")),
    Copy("@fortawesome/fontawesome-free", "LICENSE.txt", "fontawesome-free/LICENSE"),
    # Glyphicons (folium's default icon prefix) exist only inside Bootstrap 3, installed under the
    # npm alias "bootstrap3"; the stylesheet is cut out of it below so Bootstrap 3 never reaches a page.
    *(Copy("bootstrap3", f"fonts/{font}", f"glyphicons/fonts/{font}")
      for font in ("glyphicons-halflings-regular.woff2", "glyphicons-halflings-regular.woff")),
    Copy("bootstrap3", "LICENSE", "glyphicons/LICENSE"),
)

# Source maps are not shipped; without this a browser's developer tools would ask for them and log 404s.
SOURCE_MAP_COMMENT = re.compile(rb"\n?(?://|/\*)# sourceMappingURL=[^\n]*?(?:\*/)?[ \t]*(?=\n|$)")


class InstallError(RuntimeError):
    """The assets cannot be installed; the message says what to run."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def locked_versions(lockfile: Path) -> dict[str, str]:
    """Package name -> version, as package-lock.json pins them."""
    lock = json.loads(lockfile.read_text(encoding="utf-8"))
    return {
        path.removeprefix("node_modules/"): entry["version"]
        for path, entry in lock.get("packages", {}).items()
        if path.startswith("node_modules/") and "version" in entry
    }


def check_node_modules(node_modules: Path, versions: dict[str, str], packages: set[str]) -> None:
    """Refuse to copy from a node_modules that is missing or differs from the lock file."""
    if not node_modules.is_dir():
        raise InstallError(f"{node_modules} does not exist: run 'npm ci --no-audit --no-fund' first")
    for package in sorted(packages):
        meta = node_modules / package / "package.json"
        if not meta.is_file():
            raise InstallError(f"npm package {package} is not in {node_modules}: run 'npm ci --no-audit --no-fund'")
        installed = json.loads(meta.read_text(encoding="utf-8"))["version"]
        if versions.get(package) not in (None, installed):
            raise InstallError(
                f"node_modules has {package} {installed} but package-lock.json pins {versions[package]}: "
                "run 'npm ci --no-audit --no-fund'"
            )


def glyphicons_css(bootstrap3_css: str) -> str:
    """Keep only the Glyphicons rules of Bootstrap 3's stylesheet, with a WOFF2/WOFF-only @font-face."""
    rules = []
    depth, start, i = 0, 0, 0
    while i < len(bootstrap3_css):
        if bootstrap3_css.startswith("/*", i):
            # Skip comments whole: a brace inside one must not count.
            end = bootstrap3_css.find("*/", i + 2)
            i = len(bootstrap3_css) if end == -1 else end + 2
            if depth == 0:
                start = i
            continue
        char = bootstrap3_css[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rule = bootstrap3_css[start : i + 1].strip()
                selectors = rule.split("{", 1)[0]
                # Top-level rules only: Bootstrap's components that merely use an icon
                # (".carousel-control .glyphicon-...") are not icon definitions.
                if all(s.strip().startswith(".glyphicon") for s in selectors.split(",")):
                    rules.append(rule)
                start = i + 1
        i += 1
    if len(rules) < 200:
        raise InstallError(
            f"found only {len(rules)} Glyphicons rules in Bootstrap 3's stylesheet; has its layout changed?"
        )
    font_face = (
        "@font-face {\n"
        '  font-family: "Glyphicons Halflings";\n'
        '  src: url("../fonts/glyphicons-halflings-regular.woff2") format("woff2"),\n'
        '       url("../fonts/glyphicons-halflings-regular.woff") format("woff");\n'
        "}"
    )
    header = "/* Glyphicons Halflings from Bootstrap 3 (MIT, see ../LICENSE), for folium's default marker icons. */"
    return "\n".join([header, font_face, *rules]) + "\n"


def rotate_css() -> str:
    """The classes folium's Icon(angle=...) puts on an awesome marker's glyph: one per whole degree."""
    lines = ["/* Written by scripts/install_assets.py: folium's Icon(angle=N) adds the class fa-rotate-N. */"]
    lines += [f".fa-rotate-{deg} {{ transform: rotate({deg}deg); }}" for deg in range(360)]
    return "\n".join(lines) + "\n"


def generated_files(node_modules: Path) -> dict[str, bytes]:
    """Files made here rather than copied: vendor path -> contents."""
    bootstrap3 = (node_modules / "bootstrap3" / "dist" / "css" / "bootstrap.css").read_text(encoding="utf-8")
    return {
        "glyphicons/css/glyphicons.css": glyphicons_css(bootstrap3).encode(),
        "folium/leaflet.awesome.rotate.css": rotate_css().encode(),
    }


def build(node_modules: Path, staging: Path, versions: dict[str, str], lock_hash: str) -> dict:
    """Write every vendor file into ``staging`` and return the manifest describing them."""
    files: dict[str, dict] = {}
    for copy in COPIES:
        source = node_modules / copy.package / copy.source
        if not source.is_file():
            raise InstallError(f"{copy.package} {versions.get(copy.package, '?')} has no file {copy.source}")
        data = source.read_bytes()
        if source.suffix in (".js", ".css"):
            data = SOURCE_MAP_COMMENT.sub(b"", data)
        files[copy.target] = {"package": copy.package, "from": copy.source, "data": data}
    for target, data in generated_files(node_modules).items():
        files[target] = {"package": None, "from": "scripts/install_assets.py", "data": data}
    manifest_files = {}
    for target, info in sorted(files.items()):
        path = staging / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(info["data"])
        manifest_files[target] = {
            "package": info["package"],
            "from": info["from"],
            "bytes": len(info["data"]),
            "sha256": sha256(info["data"]),
        }
    packages = sorted({c.package for c in COPIES})
    return {
        "lock_sha256": lock_hash,
        "packages": {name: versions.get(name) for name in packages},
        "files": manifest_files,
    }


def stamp_value(lock_hash: str) -> str:
    # The script's own hash is part of the stamp, so changing the copy list reinstalls too.
    return f"{lock_hash} {sha256(Path(__file__).read_bytes())}\n"


def is_current(dest: Path, stamp: str) -> bool:
    """True when ``dest`` was installed from this lock file by this script and still holds every file."""
    try:
        if (dest / STAMP_NAME).read_text(encoding="utf-8") != stamp:
            return False
        manifest = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all((dest / name).is_file() for name in manifest.get("files", {}))


def install(node_modules: Path = DEFAULT_NODE_MODULES, dest: Path = DEFAULT_DEST, lockfile: Path = LOCKFILE,
            force: bool = False) -> tuple[bool, dict | None]:
    """Install the vendor folder unless it is already current; return (changed, manifest)."""
    if not lockfile.is_file():
        raise InstallError(f"{lockfile} is missing: the asset versions are pinned there")
    lock_hash = sha256(lockfile.read_bytes())
    stamp = stamp_value(lock_hash)
    if not force and is_current(dest, stamp):
        return False, None
    versions = locked_versions(lockfile)
    check_node_modules(node_modules, versions, {c.package for c in COPIES})
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the destination and swap it in, so a failed run never leaves a half-filled
    # vendor folder and files dropped from the list do not linger from an older install.
    staging = Path(tempfile.mkdtemp(prefix=".vendor-", dir=dest.parent))
    try:
        manifest = build(node_modules, staging, versions, lock_hash)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (staging / STAMP_NAME).write_text(stamp, encoding="utf-8")
        os.chmod(staging, 0o755)
        old = None
        if dest.exists():
            old = dest.with_name(f"{staging.name}-old")
            dest.rename(old)
        staging.rename(dest)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node-modules", type=Path, default=DEFAULT_NODE_MODULES)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--lockfile", type=Path, default=LOCKFILE)
    parser.add_argument("--force", action="store_true", help="reinstall even when the stamp says it is current")
    args = parser.parse_args(argv)
    try:
        changed, manifest = install(args.node_modules, args.dest, args.lockfile, args.force)
    except InstallError as exc:
        print(f"install_assets: {exc}", file=sys.stderr)
        return 1
    if not changed:
        print(f"install_assets: {args.dest} is up to date")
    else:
        total = sum(f["bytes"] for f in manifest["files"].values())
        print(f"install_assets: wrote {len(manifest['files'])} files ({total // 1024} KiB) to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
