"""The public services on PostGIS (PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from registry.db import Store
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

# PostGIS: the whole tribute in one statement, so one round trip and one atomic step. Every data-modifying
# part sees the same snapshot and commits or fails together: the retry check, the token taken from the
# client's bucket (the upsert's WHERE refuses an empty bucket and so writes nothing further), the tribute
# (a concurrent retry with the same key hits ON CONFLICT and adds nothing), the running count and the
# audit event, whose picture is the new row's.
_PG_TRIBUTE = """
WITH target AS (
    SELECT 1 FROM {table} WHERE id = :target_id AND status <> 'retired'
), existing AS (
    SELECT id, kind, moderation, target_type, target_id FROM tributes WHERE idempotency_key = :idempotency_key
), bucket AS (
    INSERT INTO rate_buckets AS b (key, tokens, refreshed_at)
    SELECT :bucket, CAST(:capacity AS double precision) - 1, :now
    WHERE EXISTS (SELECT 1 FROM target) AND NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (key) DO UPDATE
        SET tokens = least(CAST(:capacity AS double precision), b.tokens
                           + greatest(extract(epoch FROM (:now - b.refreshed_at)), 0) / :per_token) - 1,
            refreshed_at = :now
        WHERE least(CAST(:capacity AS double precision), b.tokens
                    + greatest(extract(epoch FROM (:now - b.refreshed_at)), 0) / :per_token) >= 1
    RETURNING 1
), added AS (
    INSERT INTO tributes (status, is_demo, created_at, updated_at, version, target_type, target_id, kind,
                          message, author_name, moderation, client_hash, idempotency_key)
    SELECT 'active', false, :now, :now, 1, :target_type, :target_id, :kind, :message, :author_name,
           :moderation, :client_hash, :idempotency_key
    WHERE EXISTS (SELECT 1 FROM bucket)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), counted AS (
    INSERT INTO tribute_counts (target_type, target_id, flowers, messages)
    SELECT :target_type, :target_id, 1, 0 FROM added WHERE :kind = 'flower'
    ON CONFLICT (target_type, target_id) DO UPDATE SET flowers = tribute_counts.flowers + 1
    RETURNING flowers
), audited AS (
    INSERT INTO audit_events (at, actor_id, actor_name, action, entity_type, entity_id, before, after)
    SELECT :now, NULL, :actor, :action, 'tributes', added.id, NULL,
           CAST(:after AS jsonb) || jsonb_build_object('id', added.id)
    FROM added
)
SELECT EXISTS (SELECT 1 FROM target) AS found,
       (SELECT id FROM added) AS new_id,
       EXISTS (SELECT 1 FROM bucket) AS took_token,
       (SELECT flowers FROM counted) AS counted_flowers,
       (SELECT flowers FROM tribute_counts WHERE target_type = :target_type AND target_id = :target_id)
           AS flowers_before,
       e.id AS old_id, e.kind AS old_kind, e.moderation AS old_moderation,
       (SELECT c.flowers FROM tribute_counts c WHERE c.target_type = e.target_type AND c.target_id = e.target_id)
           AS old_flowers,
       (SELECT least(CAST(:capacity AS double precision),
                     tokens + greatest(extract(epoch FROM (:now - refreshed_at)), 0) / :per_token)
        FROM rate_buckets WHERE key = :bucket) AS tokens
FROM (SELECT 1) AS one LEFT JOIN existing e ON true
"""


_PG_STATEMENTS: dict = {}


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# The grams of the names (``name_grams``), from the texts ``{source}`` materializes.
_NAME_GRAMS = """
WITH {source}
INSERT INTO martyr_name_grams (gram, martyr_id, name_pinyin)
SELECT substr(s.t, p.i, z.n), s.id, s.name_pinyin
FROM src AS s
CROSS JOIN LATERAL generate_series(1, s.len) AS p(i)
CROSS JOIN (VALUES (1), (2)) AS z(n)
WHERE p.i + z.n - 1 <= s.len AND strpos(s.t, substr(s.t, p.i, z.n)) = p.i
"""


class PostGISQueries(PublicBackend):
    kind = "postgis"
    dialect = "postgresql"
    upsert = staticmethod(pg_insert)
    substring_by_like = False
    name_text_sql = f"translate(coalesce(name, ''), '{_UPPER}', '{_UPPER.lower()}')"
    find_function = "strpos"
    name_grams_sql = _NAME_GRAMS
    tomb_count_sql = (
        "SELECT count(*) FROM (SELECT 1 FROM tombs AS t "
        "WHERE t.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) "
        "AND t.status <> 'retired' LIMIT :n) AS c"
    )
    tomb_grid_sql = (
        "SELECT floor((ST_X(t.geom) + 180.0) / :cell)::integer AS gx, "
        "floor((ST_Y(t.geom) + 90.0) / :cell)::integer AS gy, "
        "count(*), avg(ST_X(t.geom)), avg(ST_Y(t.geom)) FROM tombs AS t "
        "WHERE t.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) AND t.status <> 'retired' GROUP BY gx, gy"
    )

    def submit_tribute(self, store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
        capacity, per_token = TRIBUTE_RATE
        statement = _PG_STATEMENTS.get(target_type)
        if statement is None:  # parsed once per target table; text() costs a regex pass over the SQL
            statement = _PG_STATEMENTS.setdefault(target_type, text(
                _PG_TRIBUTE.format(table=TARGETS[target_type].__tablename__)).bindparams(
                bindparam("now", type_=DateTime(timezone=True))))
        params = {**values, "bucket": f"tribute:{values['client_hash']}", "capacity": capacity,
                  "per_token": per_token, "actor": PUBLIC.name, "action": f"tribute_{values['kind']}",
                  "after": json.dumps(audit_after(None, values), ensure_ascii=False), "now": values["created_at"]}
        params.pop("created_at"), params.pop("updated_at"), params.pop("status"), params.pop("is_demo")
        params.pop("version")
        # Autocommit: the single statement is its own transaction, so no BEGIN or COMMIT round trip.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(statement, params).one()
        if row.old_id is not None:
            return TributeResult(row.old_id, row.old_kind, row.old_moderation, False, row.old_flowers or 0)
        if not row.found:
            raise NotFound(f"no {target_type} {target_id}")
        if row.new_id is not None:
            flowers = row.counted_flowers if values["kind"] == "flower" else (row.flowers_before or 0)
            return TributeResult(row.new_id, values["kind"], values["moderation"], True, flowers)
        if not row.took_token:
            raise wait_message(row.tokens, per_token)
        # The same key committed by a concurrent retry after this statement's snapshot: answer with that one.
        found = existing_tribute(store, values["idempotency_key"])
        if found is None:
            raise RuntimeError("a tribute was neither written nor found; nothing was counted")
        return found
