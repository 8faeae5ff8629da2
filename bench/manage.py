"""Managers' area benchmarks: inspection submit with photos, its idempotent retry, and the due list of a big county."""

from __future__ import annotations

import io
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image
from sqlalchemy import func, insert, select

from bench.harness import Row, Table, median
from bench.stores import fresh_store, postgis_available
from registry.models import Attachment, Facility, Inspection, User
from registry.services import Actor
from registry.services.manage.due import Cadence, statuses
from registry.services.manage.inspections import submit_inspection

COUNTY = "350823"
SIX = ("marker", "deeds", "headstone", "boundary", "rules", "road")


def _photo(seed: int, target_mb: float = 3.0) -> bytes:
    """A phone-sized JPEG (3000 x 2250) of about ``target_mb``: a gradient with sensor-like noise."""
    rng = np.random.default_rng(seed)
    h, w = 2250, 3000
    base = np.linspace(40, 210, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    noise = rng.normal(0, 22, (h, w, 3)).astype(np.float32)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    for quality in (80, 88, 94):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=quality)
        if out.tell() >= target_mb * 1e6 * 0.9:
            break
    return out.getvalue()


def _manager(store) -> Actor:
    with store.write_session() as s:
        user = User(username=f"bench-{uuid.uuid4().hex[:6]}", roles=["manager"], counties=[COUNTY],
                    password_hash="-")
        s.add(user)
        s.commit()
        return Actor(name=user.username, id=user.id, roles=("manager",), counties=(COUNTY,))


def _facilities(store, count: int, seed: int = 5) -> list[int]:
    """``count`` facilities of one county, written with Core executemany (the fast path, triggers included)."""
    rng = np.random.default_rng(seed)
    from shapely.geometry import Point

    now = datetime.now(UTC)
    rows = [{"code": f"B{seed}-{i:06d}", "name": f"bench {i}", "category": "scattered_tomb", "level": "ungraded",
             "county_code": COUNTY, "geom": Point(float(x), float(y)), "status": "active", "is_demo": False,
             "created_at": now - timedelta(days=800), "updated_at": now, "version": 1, "sign_present": False,
             "land_title_registered": False, "position_approximate": True}
            for i, (x, y) in enumerate(zip(rng.uniform(116.2, 116.8, count), rng.uniform(24.8, 25.4, count),
                                           strict=True))]
    with store.write_session() as s:
        for start in range(0, count, 5000):
            s.execute(insert(Facility), rows[start:start + 5000])
        s.commit()
        return list(s.scalars(select(Facility.id).where(Facility.code.like(f"B{seed}-%")).order_by(Facility.id)))


def _inspections(store, facility_ids: list[int], per_facility: int, seed: int = 9) -> int:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    tiers = np.array(["station", "county", "city"])
    conditions = np.array(["good", "fair", "poor", "critical"])
    rows = []
    for fid in facility_ids:
        for _ in range(per_facility):
            rows.append({"facility_id": fid, "inspected_at": now - timedelta(days=float(rng.uniform(1, 700))),
                         "tier": str(rng.choice(tiers, p=(0.65, 0.28, 0.07))),
                         "condition": str(rng.choice(conditions, p=(0.6, 0.3, 0.08, 0.02))),
                         "problems": "问题" if rng.random() < 0.05 else None, "status": "active",
                         "is_demo": False, "created_at": now, "updated_at": now, "version": 1})
    with store.write_session() as s:
        for start in range(0, len(rows), 10000):
            s.execute(insert(Inspection), rows[start:start + 10000])
        s.commit()
    return len(rows)


def _form(key: str) -> dict:
    return {"idempotency_key": key, "condition": "fair", "tier": "station", "problems": "碑文风化",
            "lon": "116.5001", "lat": "25.1001", **{f"std_{k}": "present" for k in SIX}}


def bench_submit(kind: str, table: Table, rounds: int) -> None:
    photos = [(f"p{i}.jpg", _photo(i)) for i in range(3)]
    size_mb = sum(len(p) for _n, p in photos) / 3 / 1e6
    with fresh_store(kind) as store, tempfile.TemporaryDirectory(prefix="manage-bench-") as folder:
        actor = _manager(store)
        [fid] = _facilities(store, 1, seed=1)
        ours, base, retry = [], [], []
        for r in range(rounds):
            key = f"bench-key-{r:04d}-{uuid.uuid4().hex[:8]}"
            t0 = time.perf_counter()
            # Baseline: the same rows (one inspection, three attachments) inserted plainly, no checks, no files.
            with store.write_session() as s:
                row = Inspection(facility_id=fid, inspector_id=actor.id, inspected_at=datetime.now(UTC),
                                 tier="station", condition="fair", idempotency_key=key + "-plain",
                                 **{f"std_{k}": "present" for k in SIX})
                s.add(row)
                s.flush()
                for name, data in photos:
                    s.add(Attachment(entity_type="inspections", entity_id=row.id, kind="inspection_photo",
                                     filename=name, content_type="image/jpeg", size=len(data), sha256="-",
                                     storage_path="-"))
                s.commit()
            t1 = time.perf_counter()
            submit_inspection(store, actor, fid, _form(key), photos, attachments_dir=folder)
            t2 = time.perf_counter()
            again = submit_inspection(store, actor, fid, _form(key), photos, attachments_dir=folder)
            t3 = time.perf_counter()
            assert again.replayed
            base.append((t1 - t0) * 1000)
            ours.append((t2 - t1) * 1000)
            retry.append((t3 - t2) * 1000)
        with store.session() as s:
            kept = s.scalar(select(func.count(Inspection.id)).where(Inspection.idempotency_key.like("bench-key-%")
                                                                    & ~Inspection.idempotency_key.like("%-plain")))
        note = f"3 photos of {size_mb:.1f} MB each: check, resize, thumbnail, write; {rounds} rounds"
        table.add(Row("inspection submit, 3 photos", kind, "3 x 3MB", median(ours), median(base), note=note))
        table.add(Row("inspection retry (same key)", kind, "3 x 3MB", median(retry), median(base),
                      note=f"answered from the first; {kept} kept for {rounds} keys sent twice"))


def bench_due(kind: str, table: Table, count: int, rounds: int) -> None:
    with fresh_store(kind) as store:
        actor = _manager(store)
        ids = _facilities(store, count, seed=2)
        rows = _inspections(store, ids, 4)
        cadence = Cadence()
        baseline_query = (select(Inspection.facility_id, func.max(Inspection.inspected_at))
                          .join(Facility, Facility.id == Inspection.facility_id)
                          .where(Facility.county_code == COUNTY).group_by(Inspection.facility_id))
        ours, base = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            with store.session() as s:
                got = s.execute(baseline_query).all()
            t1 = time.perf_counter()
            result = statuses(store, actor, cadence, county=COUNTY)
            t2 = time.perf_counter()
            base.append((t1 - t0) * 1000)
            ours.append((t2 - t1) * 1000)
        assert len(result) == count and len(got) == count
        overdue = sum(1 for r in result if r.status == "overdue")
        table.add(Row("due/overdue list of a county", kind, f"{count:,}", median(ours), median(base),
                      target="<= 3x", note=f"{rows:,} inspections; {overdue:,} overdue; baseline: last inspection "
                                           "per facility, one grouped query"))


def run(table: Table, quick: bool) -> None:
    """Append the managers' area rows; ``quick`` keeps it under a minute (GeoPackage, fewer rounds)."""
    kinds = ["geopackage"] + ([] if quick or not postgis_available() else ["postgis"])
    for kind in kinds:
        bench_submit(kind, table, rounds=3 if quick else 10)
        bench_due(kind, table, count=20_000, rounds=3 if quick else 7)


if __name__ == "__main__":
    import sys

    results = Table()
    print(Table.header(), flush=True)
    run(results, quick="--quick" in sys.argv)
