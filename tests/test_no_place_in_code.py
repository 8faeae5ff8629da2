"""No place in the code: the program's modules name no division of the demo data (codes or names)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry import demo

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "maps", "geodata", "templates")
# The demo data is where places belong; vendored front-end files are not ours.
ALLOWED = {Path("registry/demo/places.py")}
SUFFIXES = {".py", ".html", ".js", ".css", ".po", ".txt", ".json", ".toml", ".cfg"}


def _places() -> tuple[set[str], set[str]]:
    rows = [r for r in demo.demo_divisions() if r["level"] in ("city", "county")]
    codes = {r["code"] for r in rows} | {a["former_code"] for a in demo.demo_aliases()}
    names = {r["name"] for r in rows} | {a["former_name"] for a in demo.demo_aliases()}
    # The short names (上杭 for 上杭县) and the romanised names of the cities are places too.
    names |= {n[:-1] for n in names if len(n) >= 3} | {"Longyan", "Sanming"}
    return codes, names


def _files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            relative = path.relative_to(ROOT)
            if (path.is_file() and path.suffix in SUFFIXES and relative not in ALLOWED
                    and "vendor" not in relative.parts and "__pycache__" not in relative.parts):
                yield relative


def test_the_demo_places_are_found_by_the_check():
    codes, names = _places()
    assert {"350823", "350822", "350423", "350400"} <= codes
    assert {"上杭县", "上杭", "永定县", "清流县", "三明市", "Longyan"} <= names


def offences(text: str, codes: set[str], names: set[str]) -> list[str]:
    found = [c for c in re.findall(r"(?<!\d)\d{6}(?!\d)", text) if c in codes]
    found += [n for n in names if n in text]
    return sorted(set(found))


@pytest.mark.parametrize("text, expected", [
    ('county = "350823"', ["350823"]), ("# 上杭县 is special", ["上杭", "上杭县"]), ("ok 1350823 x", []),
    ("center of Longyan", ["Longyan"]), ("甲县 990101", []),
])
def test_the_check_sees_a_place(text, expected):
    assert offences(text, *_places()) == expected


def test_no_package_module_names_a_place():
    codes, names = _places()
    bad = {}
    for relative in _files():
        text = (ROOT / relative).read_text(encoding="utf-8", errors="replace")
        found = offences(text, codes, names)
        if found:
            bad[str(relative)] = found
    assert bad == {}, "places belong in the divisions data (or registry/demo/places.py), not in the code: " + repr(bad)
