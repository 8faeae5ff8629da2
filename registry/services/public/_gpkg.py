"""The public services on a GeoPackage (SQLite)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from registry.db import Store
from registry.models import AuditEvent, RateBucket, Tribute, TributeCount
from registry.services.base import NotFound
from registry.services.public.backend import (
    PUBLIC,
    TARGETS,
    TRIBUTE_RATE,
    PublicBackend,
    TributeResult,
    audit_after,
    existing_tribute,
    wait_message,
)

# The grams of the names (``name_grams``), from the texts ``{source}`` materializes.
_NAME_GRAMS = """
WITH RECURSIVE positions(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM positions WHERE i < :longest),
{source}
INSERT INTO martyr_name_grams (gram, martyr_id, name_pinyin)
SELECT substr(t, i, n), id, name_pinyin
FROM src JOIN positions ON i <= len JOIN (SELECT 1 AS n UNION ALL SELECT 2) AS sizes ON i + n - 1 <= len
WHERE instr(t, substr(t, i, n)) = i
"""


class GeoPackageQueries(PublicBackend):
    kind = "geopackage"
    dialect = "sqlite"
    upsert = staticmethod(sqlite_insert)
    substring_by_like = True
    name_text_sql = "lower(coalesce(name, ''))"
    find_function = "instr"
    name_grams_sql = _NAME_GRAMS
    tomb_count_sql = (
        "SELECT count(*) FROM (SELECT 1 FROM rtree_tombs_geom AS r CROSS JOIN tombs AS t ON t.id = r.id "
        "WHERE r.maxx >= :minx AND r.minx <= :maxx AND r.maxy >= :miny AND r.miny <= :maxy "
        "AND t.status <> 'retired' LIMIT :n) AS c"
    )
    # Clusters come from the R*Tree alone (its float32 bounds are near enough for a cluster's position); the
    # few retired tombs are left out through the partial index ix_tombs_retired, so no tomb row is read.
    tomb_grid_sql = (
        "SELECT CAST(((r.minx + r.maxx) / 2 + 180.0) / :cell AS INTEGER) AS gx, "
        "CAST(((r.miny + r.maxy) / 2 + 90.0) / :cell AS INTEGER) AS gy, count(*), "
        "avg((r.minx + r.maxx) / 2), avg((r.miny + r.maxy) / 2) "
        "FROM rtree_tombs_geom AS r "
        "WHERE r.maxx >= :minx AND r.minx <= :maxx AND r.maxy >= :miny AND r.miny <= :maxy "
        "AND r.id NOT IN (SELECT id FROM tombs WHERE status = 'retired') GROUP BY gx, gy"
    )

    def submit_tribute(self, store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
        try:
            return _write(store, target_type, target_id, values)
        except IntegrityError:
            # Another process wrote the same key (the lock at BEGIN makes this rare): answer with that one.
            found = existing_tribute(store, values["idempotency_key"])
            if found is None:
                raise
            return found


def _write(store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
    """One write transaction (SQLite's lock taken at BEGIN), a few statements on one connection, no ORM."""
    capacity, per_token = TRIBUTE_RATE
    tributes, counts = Tribute.__table__, TributeCount.__table__
    model = TARGETS[target_type]
    now = values["created_at"]
    with store.engine.execution_options(write=True).begin() as conn:
        old = conn.execute(select(tributes.c.id, tributes.c.kind, tributes.c.moderation, tributes.c.target_type,
                                  tributes.c.target_id)
                           .where(tributes.c.idempotency_key == values["idempotency_key"])).first()
        if old is not None:
            flowers = conn.scalar(select(counts.c.flowers).where(counts.c.target_type == old.target_type,
                                                                 counts.c.target_id == old.target_id))
            return TributeResult(old.id, old.kind, old.moderation, False, flowers or 0)
        status = conn.scalar(select(model.__table__.c.status).where(model.__table__.c.id == target_id))
        if status is None or status == "retired":
            raise NotFound(f"no {target_type} {target_id}")
        key = f"tribute:{values['client_hash']}"
        bucket = conn.execute(select(RateBucket.tokens, RateBucket.refreshed_at).where(RateBucket.key == key)).first()
        tokens = capacity
        if bucket is not None:
            tokens = min(capacity, bucket.tokens + max((now - bucket.refreshed_at).total_seconds(), 0.0) / per_token)
        if tokens < 1.0:
            raise wait_message(tokens, per_token)
        conn.execute(sqlite_insert(RateBucket).values(key=key, tokens=tokens - 1.0, refreshed_at=now)
                     .on_conflict_do_update(index_elements=["key"],
                                            set_={"tokens": tokens - 1.0, "refreshed_at": now}))
        tribute_id = conn.execute(insert(tributes).values(**values)).inserted_primary_key[0]
        flowers = None
        if values["kind"] == "flower":
            flowers = conn.execute(sqlite_insert(counts).values(target_type=target_type, target_id=target_id,
                                                                flowers=1, messages=0)
                                   .on_conflict_do_update(index_elements=["target_type", "target_id"],
                                                          set_={"flowers": counts.c.flowers + 1})
                                   .returning(counts.c.flowers)).scalar_one()
        else:
            flowers = conn.scalar(select(counts.c.flowers).where(counts.c.target_type == target_type,
                                                                 counts.c.target_id == target_id)) or 0
        conn.execute(insert(AuditEvent.__table__).values(
            at=now, actor_id=PUBLIC.id, actor_name=PUBLIC.name, action=f"tribute_{values['kind']}",
            entity_type="tributes", entity_id=tribute_id, before=None, after=audit_after(tribute_id, values)))
    return TributeResult(tribute_id, values["kind"], values["moderation"], True, flowers)
