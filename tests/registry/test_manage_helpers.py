"""Shared helpers (no tests) for the managers' area tests: people, facilities, photos and form values."""

from __future__ import annotations

import functools
import io
import itertools
from datetime import UTC, datetime, timedelta

from PIL import Image
from werkzeug.security import generate_password_hash

from registry.models import Facility, Inspection, User
from registry.services import Actor
from registry.services.facilities import create_facility
from registry.services.users import as_actor

SYSTEM = Actor.system("test")
SHANGHANG = "350823"
CHANGTING = "350821"
GUTIAN = (116.818, 25.225)
_codes = itertools.count(1)


PEOPLE = (
    ("mgr", ["manager"], [SHANGHANG]), ("mgr2", ["manager"], [SHANGHANG]), ("other", ["manager"], [CHANGTING]),
    ("planner1", ["planner"], []), ("reviewer1", ["reviewer"], []), ("admin1", ["admin"], []),
)


def people(store) -> dict[str, Actor]:
    """One user of each role; two managers of 上杭县 (so a second person can verify) and one of 长汀县.

    Written directly with a cheap hash (password ``<name>-password``): the sign-in itself is tested
    elsewhere, and six scrypt hashes per test would make these tests slow.
    """
    made = {}
    with store.write_session() as s:
        for name, roles, counties in PEOPLE:
            user = User(username=name, display_name=name, roles=roles, counties=counties,
                        password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000"))
            s.add(user)
            s.flush()
            made[name] = as_actor(user)
        s.commit()
    return made


def facility(store, county=SHANGHANG, lonlat=GUTIAN, **extra) -> Facility:
    n = next(_codes)
    values = {"code": f"{county}-T{n:04d}", "name": f"测试纪念碑{n}", "category": "monument", "level": "county",
              "county_code": county, "lon": lonlat[0], "lat": lonlat[1], "township": "古田镇"}
    values.update(extra)
    return create_facility(store, SYSTEM, values)


def jpeg(width=64, height=48, colour=(120, 30, 30), exif_time: str | None = None, gps=None) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    exif = Image.Exif()
    if exif_time:
        exif[0x0132] = exif_time  # DateTime
    if gps:
        lon, lat = gps
        exif[0x8825] = {1: "N", 2: (float(lat), 0.0, 0.0), 3: "E", 4: (float(lon), 0.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width=40, height=30) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 100, 0, 128)).save(out, "PNG")
    return out.getvalue()


@functools.cache
def pixel_bomb() -> bytes:
    """A tiny PNG whose header declares 30,000 x 30,000 pixels (900 megapixels)."""
    out = io.BytesIO()
    Image.new("1", (30000, 30000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def form(key="key-0001-abcdef", **extra) -> dict:
    values = {"idempotency_key": key, "condition": "good", "tier": "station",
              **{f"std_{k}": "present" for k in ("marker", "deeds", "headstone", "boundary", "rules", "road")}}
    values.update(extra)
    return values


def backdate(store, facility_id: int, days: int, tier="station", condition="good", problems=None) -> None:
    """An inspection made ``days`` ago (written directly: the form refuses nothing in the past anyway)."""
    with store.write_session() as s:
        s.add(Inspection(facility_id=facility_id, inspected_at=datetime.now(UTC) - timedelta(days=days), tier=tier,
                         condition=condition, problems=problems))
        s.commit()
