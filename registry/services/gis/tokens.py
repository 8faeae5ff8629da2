"""API tokens issued to a named account: create (the secret shown once), list without secrets, revoke.

A token stands for one role of one user, so it can never reach further than the person it was issued
to. Only the SHA-256 of the secret is stored (see ``ApiToken``). ``actor_for_token`` turns the token a
GIS client sends into the actor it stands for, with its user's counties.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from registry.db import Store
from registry.models import ApiToken, User
from registry.models.types import utcnow
from registry.models.vocab import ROLES
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    record_audit,
    snapshot,
    unit_of_work,
)

TOKEN_PREFIX = "rgt_"
# A token longer-lived than ten years is a forgotten one; ask for a new one instead.
MAX_DAYS = 3650


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (256 random bits cannot be brute-forced; no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What a list of tokens shows: never the secret, only its first characters."""

    id: int
    prefix: str
    label: str
    username: str | None
    roles: tuple[str, ...]
    state: str  # active, revoked, expired
    expires_at: datetime | None
    created_at: datetime


def _days(expires_days) -> int | None:
    if expires_days is None:
        return None
    try:
        days = int(expires_days)
    except (TypeError, ValueError):
        raise InvalidInput(f"expires {expires_days!r} is not a whole number of days", field="expires") from None
    if days < 1:
        raise InvalidInput(f"expires {days} days: give a positive number of days (1 or more), or leave it out "
                           "for a token that does not expire", field="expires")
    if days > MAX_DAYS:
        raise InvalidInput(f"expires {days} days is more than {MAX_DAYS}; issue a shorter-lived token",
                           field="expires")
    return days


def create_token(store: Store, actor: Actor, username: str, role: str, expires_days: int | None = None,
                 label: str | None = None) -> tuple[TokenInfo, str]:
    """Issue a token for one role of an active user; returns its description and the secret (shown once)."""
    if not actor.can("admin"):
        raise Forbidden("only an admin may issue API tokens")
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not a role; choose from {', '.join(ROLES)}", field="role")
    days = _days(expires_days)
    label = (label or "").strip() or f"{role} token for {username}"
    if len(label) > 200:
        raise InvalidInput("label is longer than 200 characters", field="label")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(store) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise InvalidInput(f"user {username!r} does not exist", field="user")
        if user.status != "active":
            raise InvalidInput(f"user {username!r} is retired; a retired account gets no tokens", field="user")
        if not user.has_role(role):
            raise InvalidInput(f"user {username!r} does not have the role {role!r} (their roles: "
                               f"{', '.join(user.roles or []) or 'none'})", field="role")
        row = ApiToken(name=label, token_hash=token_hash(secret), prefix=secret[:8], roles=[role],
                       owner_id=user.id, expires_at=utcnow() + timedelta(days=days) if days else None)
        session.add(row)
        record_audit(session, actor, "create", row, note=f"API token for {username} ({role})")
        info = _info(row, username)
    return info, secret


def _state(row: ApiToken, now: datetime) -> str:
    if row.status != "active":
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def _info(row: ApiToken, username: str | None, now: datetime | None = None) -> TokenInfo:
    return TokenInfo(id=row.id, prefix=row.prefix, label=row.name, username=username,
                     roles=tuple(row.roles or ()), state=_state(row, now or utcnow()),
                     expires_at=row.expires_at, created_at=row.created_at)


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token ever issued, oldest first, with its state; secrets are not stored, so none is shown."""
    now = utcnow()
    with store.session() as session:
        rows = session.execute(select(ApiToken, User.username).outerjoin(User, User.id == ApiToken.owner_id)
                               .order_by(ApiToken.id)).all()
        return [_info(row, username, now) for row, username in rows]


def revoke_token(store: Store, actor: Actor, token_id: int) -> TokenInfo:
    """Revoke a token: it stops working at once; its row and its history stay (a state, never a delete)."""
    if not actor.can("admin"):
        raise Forbidden("only an admin may revoke API tokens")
    with unit_of_work(store) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"there is no API token {token_id}; see 'tokens list'", field="id")
        if row.status != "active":
            raise Conflict(f"API token {token_id} is already revoked", field="id")
        before = snapshot(row)
        row.status = "retired"
        record_audit(session, actor, "revoke", row, before=before)
        owner = session.get(User, row.owner_id) if row.owner_id else None
        return _info(row, owner.username if owner else None)


def actor_for_token(store: Store, token: str) -> Actor | None:
    """The actor a bearer token stands for, or None when it is unknown, revoked or expired."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with store.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                    ApiToken.status == "active"))
        if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
            return None
        owner = session.get(User, row.owner_id) if row.owner_id is not None else None
        if row.owner_id is not None and (owner is None or owner.status != "active"):
            return None  # a retired user's tokens stop with the account
        held = set(owner.roles or ()) if owner is not None else None
        roles = tuple(r for r in (row.roles or ()) if held is None or r in held or "admin" in held)
        if not roles:
            return None  # the role the token was issued for has since been taken from its user
        counties = tuple(owner.counties or ()) if owner is not None else ()
        if counties:
            from registry.services.divisions import current

            counties = current(session).expand(counties)  # a city stands for its counties
        return Actor(name=f"token:{row.name}", id=row.owner_id, roles=roles, counties=counties)
