"""Online tribute (网上祭扫): flowers and messages without an account, rate-limited, idempotent, moderated.

Every accepted tribute is a row of its own, written with its audit event and the running count in one
transaction; a retry carrying the same idempotency key returns the first tribute instead of a second.
The per-client rate limit is a token bucket kept in the store (table ``rate_buckets``), keyed by a salted
hash of the client address, so every app process and server shares it and no Redis is needed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import AuditEvent, Facility, Martyr, RateBucket, Tribute, TributeCount
from registry.models.types import utcnow
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)

TARGETS = {"martyr": Martyr, "facility": Facility}
MESSAGE_MIN = 2
MESSAGE_MAX = 300
AUTHOR_MAX = 30
DECISIONS = {"approve": "approved", "reject": "rejected"}
# (bucket size, seconds per new token): a burst of 5 tributes, then one every 6 seconds per client.
TRIBUTE_RATE = (5.0, 6.0)
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PUBLIC = Actor(name="public")


class RateLimited(ServiceError):
    """Too many submissions from one client in a short time; nothing was written."""

    status = 429


@dataclass(frozen=True)
class TributeResult:
    """What a visitor is told: the tribute, whether this call made it, and the flowers now laid."""

    tribute_id: int
    kind: str
    moderation: str
    created: bool
    flowers: int


def client_fingerprint(address: str | None, secret: str) -> str:
    """A salted hash of a client address: the rate limit's key, and never the address itself."""
    return hashlib.sha256(f"{secret}|{address or 'unknown'}".encode()).hexdigest()[:32]


def check_idempotency_key(key) -> str:
    key = (key or "").strip()
    if not _KEY.match(key):
        raise InvalidInput("idempotency_key must be 8 to 64 letters, digits, '-' or '_' (the form provides one; "
                           "reload the page)", field="idempotency_key")
    return key


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def take_token(session: Session, key: str, rate: tuple[float, float], message: str) -> None:
    """Take one token from the bucket ``key`` in this transaction, or raise RateLimited (nothing is taken)."""
    capacity, seconds = rate
    now = utcnow()
    insert = _insert(session)
    bucket = None
    # Twice at most: a purge of refilled buckets (services/rate_buckets.py) may delete the row between the
    # insert that found it present and the locking read; the second insert then makes it afresh.
    for _attempt in range(2):
        session.execute(insert(RateBucket).values(key=key, tokens=capacity, refreshed_at=now)
                        .on_conflict_do_nothing(index_elements=["key"]))
        bucket = session.scalars(select(RateBucket).where(RateBucket.key == key).with_for_update()).one_or_none()
        if bucket is not None:
            break
    if bucket is None:
        raise RateLimited(message.format(seconds=1))
    elapsed = max((now - bucket.refreshed_at).total_seconds(), 0.0)
    tokens = min(capacity, bucket.tokens + elapsed / seconds)
    if tokens < 1.0:
        wait = int((1.0 - tokens) * seconds) + 1
        raise RateLimited(message.format(seconds=wait))
    bucket.tokens = tokens - 1.0
    bucket.refreshed_at = now


def _bump(session: Session, target_type: str, target_id: int, flowers: int = 0, messages: int = 0) -> None:
    insert = _insert(session)
    statement = insert(TributeCount).values(target_type=target_type, target_id=target_id, flowers=flowers,
                                            messages=messages)
    # An atomic add in the database: two tributes at the same moment both count.
    statement = statement.on_conflict_do_update(
        index_elements=["target_type", "target_id"],
        set_={"flowers": TributeCount.flowers + flowers, "messages": TributeCount.messages + messages},
    )
    session.execute(statement)


def _flowers(session: Session, target_type: str, target_id: int) -> int:
    return session.scalar(select(TributeCount.flowers).where(TributeCount.target_type == target_type,
                                                             TributeCount.target_id == target_id)) or 0


def _existing(store: Store, key: str) -> TributeResult | None:
    with store.session() as session:
        tribute = session.scalar(select(Tribute).where(Tribute.idempotency_key == key))
        if tribute is None:
            return None
        return TributeResult(tribute.id, tribute.kind, tribute.moderation, False,
                             _flowers(session, tribute.target_type, tribute.target_id))


def _check_target(target_type: str, target_id) -> int:
    if target_type not in TARGETS:
        raise InvalidInput(f"target_type {target_type!r} is not one of {', '.join(TARGETS)}", field="target_type")
    try:
        return int(target_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"target_id {target_id!r} is not an id", field="target_id") from None


def _audit_after(tribute_id: int | None, values: dict) -> dict:
    """The audit event's picture of a new tribute: what ``snapshot`` would give for the row just written."""
    after = {column.key: None for column in Tribute.__table__.columns}
    after.update({key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()})
    after["id"] = tribute_id
    return after


def _new_values(target_type: str, target_id: int, kind: str, client: str, key: str, message, author_name) -> dict:
    now = utcnow()
    return {"status": "active", "is_demo": False, "created_at": now, "updated_at": now, "version": 1,
            "target_type": target_type, "target_id": target_id, "kind": kind, "message": message,
            "author_name": author_name, "moderation": "approved" if kind == "flower" else "pending",
            "client_hash": client, "idempotency_key": key}


def _wait_message(tokens: float, seconds: float) -> RateLimited:
    wait = int((1.0 - tokens) * seconds) + 1
    return RateLimited(_RATE_MESSAGE.format(seconds=wait))


_RATE_MESSAGE = "Too many tributes from this device in a short time; please wait {seconds} seconds."

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


def _submit_postgis(store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
    capacity, per_token = TRIBUTE_RATE
    statement = _PG_STATEMENTS.get(target_type)
    if statement is None:  # parsed once per target table; text() costs a regex pass over the SQL
        statement = _PG_STATEMENTS.setdefault(target_type, text(
            _PG_TRIBUTE.format(table=TARGETS[target_type].__tablename__)).bindparams(
            bindparam("now", type_=DateTime(timezone=True))))
    params = {**values, "bucket": f"tribute:{values['client_hash']}", "capacity": capacity,
              "per_token": per_token, "actor": PUBLIC.name, "action": f"tribute_{values['kind']}",
              "after": json.dumps(_audit_after(None, values), ensure_ascii=False), "now": values["created_at"]}
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
        raise _wait_message(row.tokens, per_token)
    # The same key committed by a concurrent retry after this statement's snapshot: answer with that one.
    found = _existing(store, values["idempotency_key"])
    if found is None:
        raise RuntimeError("a tribute was neither written nor found; nothing was counted")
    return found


def _submit_geopackage(store: Store, target_type: str, target_id: int, values: dict) -> TributeResult:
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
            raise _wait_message(tokens, per_token)
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
            entity_type="tributes", entity_id=tribute_id, before=None, after=_audit_after(tribute_id, values)))
    return TributeResult(tribute_id, values["kind"], values["moderation"], True, flowers)


def _submit(store: Store, target_type: str, target_id, kind: str, *, client: str, idempotency_key: str,
            message: str | None = None, author_name: str | None = None) -> TributeResult:
    key = check_idempotency_key(idempotency_key)
    target_id = _check_target(target_type, target_id)
    values = _new_values(target_type, target_id, kind, client, key, message, author_name)
    if store.kind == "postgis":
        return _submit_postgis(store, target_type, target_id, values)
    try:
        return _submit_geopackage(store, target_type, target_id, values)
    except IntegrityError:
        # Another process wrote the same key (the lock at BEGIN makes this rare): answer with that one.
        found = _existing(store, key)
        if found is None:
            raise
        return found


def lay_flower(store: Store, target_type: str, target_id, *, client: str, idempotency_key: str) -> TributeResult:
    """Lay a flower for a martyr or at a facility; it counts at once."""
    return _submit(store, target_type, target_id, "flower", client=client, idempotency_key=idempotency_key)


def leave_message(store: Store, target_type: str, target_id, message: str, author_name: str | None = None, *,
                  client: str, idempotency_key: str) -> TributeResult:
    """Leave a message; it shows only after a manager approves it."""
    text = (message or "").strip()
    if len(text) < MESSAGE_MIN:
        raise InvalidInput(f"message must be at least {MESSAGE_MIN} characters", field="message")
    if len(text) > MESSAGE_MAX:
        raise InvalidInput(f"message is {len(text)} characters; at most {MESSAGE_MAX}", field="message")
    author = (author_name or "").strip() or None
    if author and len(author) > AUTHOR_MAX:
        raise InvalidInput(f"author_name is {len(author)} characters; at most {AUTHOR_MAX}", field="author_name")
    return _submit(store, target_type, target_id, "message", client=client, idempotency_key=idempotency_key,
                   message=text, author_name=author)


def tribute_summary(store: Store, target_type: str, target_id: int, limit: int = 30) -> dict:
    """The flowers laid and the approved messages (newest first) of one martyr or facility."""
    with store.session() as session:
        messages = session.scalars(
            select(Tribute).where(Tribute.target_type == target_type, Tribute.target_id == target_id,
                                  Tribute.kind == "message", Tribute.moderation == "approved",
                                  Tribute.status != "retired")
            .order_by(Tribute.id.desc()).limit(limit)).all()
        return {
            "flowers": _flowers(session, target_type, target_id),
            "messages": [{"id": t.id, "message": t.message, "author_name": t.author_name, "at": t.created_at}
                         for t in messages],
        }


def pending_tributes(store: Store, actor: Actor, limit: int = 100) -> list[dict]:
    """Messages waiting for approval, oldest first (for the managers' moderation queue)."""
    _require_moderator(actor)
    with store.session() as session:
        rows = session.scalars(select(Tribute).where(Tribute.moderation == "pending", Tribute.status != "retired")
                               .order_by(Tribute.id).limit(limit)).all()
        return [{"id": t.id, "version": t.version, "target_type": t.target_type, "target_id": t.target_id,
                 "message": t.message, "author_name": t.author_name, "at": t.created_at} for t in rows]


def _require_moderator(actor: Actor) -> None:
    if not (actor.can("manager") or actor.can("admin")):
        raise Forbidden(f"{actor.name} may not moderate tributes")


def moderate_tribute(store: Store, actor: Actor, tribute_id: int, version: int | None, decision: str) -> Tribute:
    """Approve or reject a pending message, from the version the manager saw; stale decisions are refused."""
    _require_moderator(actor)
    if decision not in DECISIONS:
        raise InvalidInput(f"decision {decision!r} is not one of {', '.join(DECISIONS)}", field="decision")
    with unit_of_work(store) as session:
        tribute = load(session, Tribute, tribute_id, "tribute")
        check_version(tribute, version)
        if tribute.kind != "message":
            raise InvalidInput(f"tribute {tribute_id} is a {tribute.kind}; only messages are moderated",
                               field="decision")
        before = snapshot(tribute)
        new_state = DECISIONS[decision]
        if tribute.moderation != new_state:
            delta = 1 if new_state == "approved" else (-1 if tribute.moderation == "approved" else 0)
            if delta:
                _bump(session, tribute.target_type, tribute.target_id, messages=delta)
        tribute.moderation = new_state
        tribute.moderated_by = actor.name
        tribute.moderated_at = datetime.now(UTC)
        record_audit(session, actor, f"tribute_{decision}", tribute, before=before)
    return tribute
