"""Online tribute (网上祭扫): flowers and messages without an account, rate-limited, idempotent, moderated.

Every accepted tribute is a row of its own, written with its audit event and the running count in one
transaction; a retry carrying the same idempotency key returns the first tribute instead of a second.
The per-client rate limit is a token bucket kept in the store (table ``rate_buckets``), keyed by a salted
hash of the client address, so every app process and server shares it and no Redis is needed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import RateBucket, Tribute, TributeCount
from registry.models.types import utcnow
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.public import stores
from registry.services.public.backend import PUBLIC as PUBLIC
from registry.services.public.backend import TARGETS as TARGETS
from registry.services.public.backend import TRIBUTE_RATE as TRIBUTE_RATE
from registry.services.public.backend import RateLimited as RateLimited
from registry.services.public.backend import TributeResult as TributeResult
from registry.services.public.backend import flowers_of

MESSAGE_MIN = 2
MESSAGE_MAX = 300
AUTHOR_MAX = 30
DECISIONS = {"approve": "approved", "reject": "rejected"}
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def client_fingerprint(address: str | None, secret: str) -> str:
    """A salted hash of a client address: the rate limit's key, and never the address itself."""
    return hashlib.sha256(f"{secret}|{address or 'unknown'}".encode()).hexdigest()[:32]


def check_idempotency_key(key) -> str:
    key = (key or "").strip()
    if not _KEY.match(key):
        raise InvalidInput("idempotency_key must be 8 to 64 letters, digits, '-' or '_' (the form provides one; "
                           "reload the page)", field="idempotency_key")
    return key


def take_token(session: Session, key: str, rate: tuple[float, float], message: str) -> None:
    """Take one token from the bucket ``key`` in this transaction, or raise RateLimited (nothing is taken)."""
    capacity, seconds = rate
    now = utcnow()
    insert = stores.for_session(session).upsert
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
    insert = stores.for_session(session).upsert
    statement = insert(TributeCount).values(target_type=target_type, target_id=target_id, flowers=flowers,
                                            messages=messages)
    # An atomic add in the database: two tributes at the same moment both count.
    statement = statement.on_conflict_do_update(
        index_elements=["target_type", "target_id"],
        set_={"flowers": TributeCount.flowers + flowers, "messages": TributeCount.messages + messages},
    )
    session.execute(statement)


def _check_target(target_type: str, target_id) -> int:
    if target_type not in TARGETS:
        raise InvalidInput(f"target_type {target_type!r} is not one of {', '.join(TARGETS)}", field="target_type")
    try:
        return int(target_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"target_id {target_id!r} is not an id", field="target_id") from None


def _new_values(target_type: str, target_id: int, kind: str, client: str, key: str, message, author_name) -> dict:
    now = utcnow()
    return {"status": "active", "is_demo": False, "created_at": now, "updated_at": now, "version": 1,
            "target_type": target_type, "target_id": target_id, "kind": kind, "message": message,
            "author_name": author_name, "moderation": "approved" if kind == "flower" else "pending",
            "client_hash": client, "idempotency_key": key}


def _submit(store: Store, target_type: str, target_id, kind: str, *, client: str, idempotency_key: str,
            message: str | None = None, author_name: str | None = None) -> TributeResult:
    key = check_idempotency_key(idempotency_key)
    target_id = _check_target(target_type, target_id)
    values = _new_values(target_type, target_id, kind, client, key, message, author_name)
    return stores.for_store(store).submit_tribute(store, target_type, target_id, values)


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
            "flowers": flowers_of(session, target_type, target_id),
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
