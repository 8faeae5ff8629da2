"""Online tribute (网上祭扫): flowers and messages without an account, rate-limited, idempotent, moderated.

Every accepted tribute is a row of its own, written with its audit event and the running count in one
transaction; a retry carrying the same idempotency key returns the first tribute instead of a second.
The per-client rate limit is a token bucket kept in the store (table ``rate_buckets``), keyed by a salted
hash of the client address, so every app process and server shares it and no Redis is needed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import Facility, Martyr, RateBucket, Tribute, TributeCount
from registry.models.types import utcnow
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
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


def _target(session: Session, target_type: str, target_id) -> None:
    model = TARGETS.get(target_type)
    if model is None:
        raise InvalidInput(f"target_type {target_type!r} is not one of {', '.join(TARGETS)}", field="target_type")
    try:
        target_id = int(target_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"target_id {target_id!r} is not an id", field="target_id") from None
    load(session, model, target_id, target_type, hide_retired=True)


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


def _submit(store: Store, target_type: str, target_id, kind: str, *, client: str, idempotency_key: str,
            message: str | None = None, author_name: str | None = None) -> TributeResult:
    key = check_idempotency_key(idempotency_key)
    found = _existing(store, key)
    if found is not None:
        return found  # a retry: the first submission stands, nothing more is written
    try:
        with unit_of_work(store) as session:
            _target(session, target_type, target_id)
            target_id = int(target_id)
            take_token(session, f"tribute:{client}", TRIBUTE_RATE,
                       "Too many tributes from this device in a short time; please wait {seconds} seconds.")
            tribute = Tribute(target_type=target_type, target_id=target_id, kind=kind, message=message,
                              author_name=author_name, moderation="approved" if kind == "flower" else "pending",
                              client_hash=client, idempotency_key=key)
            session.add(tribute)
            if kind == "flower":
                _bump(session, target_type, target_id, flowers=1)
            record_audit(session, PUBLIC, f"tribute_{kind}", tribute)
            result = TributeResult(tribute.id, kind, tribute.moderation, True,
                                   _flowers(session, target_type, target_id))
    except IntegrityError:
        # The same key committed by a concurrent retry in between: answer with that one.
        found = _existing(store, key)
        if found is None:
            raise
        return found
    return result


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
