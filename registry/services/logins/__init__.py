"""Sign-in throttling: failures counted per account name and per client address, growing delays, then a lock."""

# Each failure is counted under the name typed, whether or not such an account exists, so the answers
# (delays and locks included) never tell a visitor which names are accounts. After ``free`` failures each
# further one makes the next attempt wait twice as long (1 s, 2 s, 4 s … up to ``max_delay``); at
# ``lock_after`` the name (or address) is locked until an administrator unlocks it. Counts of a name or
# address that is not locked are forgotten ``forget_hours`` after its last failure; a successful sign-in
# clears its name's count (never its address's, so one good account cannot reset an attacker's address).

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import LoginThrottle
from registry.models.types import utcnow
from registry.services.base import Actor, InvalidInput, record_audit, unit_of_work
from registry.services.logins import stores

ANONYMOUS = Actor(name="anonymous")


def account_key(username: str) -> str:
    return f"user:{username}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"


@dataclass(frozen=True)
class Rules:
    free: int = 3
    lock_after: int = 10
    address_free: int = 10
    address_lock_after: int = 50
    max_delay: int = 300
    forget_hours: float = 24

    @classmethod
    def from_config(cls, config) -> Rules:
        return cls(free=int(float(config.get("LOGIN_FREE_ATTEMPTS", 3))),
                   lock_after=int(float(config.get("LOGIN_LOCK_AFTER", 10))),
                   address_free=int(float(config.get("LOGIN_ADDRESS_FREE_ATTEMPTS", 10))),
                   address_lock_after=int(float(config.get("LOGIN_ADDRESS_LOCK_AFTER", 50))),
                   max_delay=int(float(config.get("LOGIN_MAX_DELAY_SECONDS", 300))),
                   forget_hours=float(config.get("LOGIN_FORGET_HOURS", 24)))

    def limits(self, key: str) -> tuple[int, int]:
        return (self.address_free, self.address_lock_after) if key.startswith("address:") else \
            (self.free, self.lock_after)

    def delay(self, key: str, failures: int) -> int:
        free, _ = self.limits(key)
        if failures < free:
            return 0
        return min(self.max_delay, 2 ** min(failures - free, 30))


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in may be tried now; if not, what holds it: 'account' or 'address', locked or waiting."""

    allowed: bool = True
    holder: str | None = None
    locked: bool = False
    retry_after: int = 0


def _forgotten(row: LoginThrottle, rules: Rules, now: datetime) -> bool:
    return row.locked_at is None and now - row.last_failure_at > timedelta(hours=rules.forget_hours)


def check(store: Store, rules: Rules, username: str, address: str | None) -> Verdict:
    """May this name be tried from this address now? Locks first, then the longer of the two waits."""
    now = utcnow()
    keys = {account_key(username): "account", address_key(address): "address"}
    with store.session() as session:
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waiting = Verdict()
    for row in rows:
        if row.locked_at is not None:
            return Verdict(allowed=False, holder=keys[row.key], locked=True)
        if _forgotten(row, rules, now):
            continue
        ready = row.last_failure_at + timedelta(seconds=rules.delay(row.key, row.failures))
        wait = (ready - now).total_seconds()
        if wait > 0 and math.ceil(wait) > waiting.retry_after:
            waiting = Verdict(allowed=False, holder=keys[row.key], retry_after=math.ceil(wait))
    return waiting


def _count(session: Session, rules: Rules, key: str, now: datetime) -> bool:
    """Count one failure under ``key`` (row locked for the update); True when this failure locks it."""
    session.execute(stores.for_session(session).insert_absent(LoginThrottle, {"key": key, "failures": 0,
                                                                             "last_failure_at": now}, "key"))
    row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
    if _forgotten(row, rules, now):
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    _, lock_after = rules.limits(key)
    if row.locked_at is None and row.failures >= lock_after:
        row.locked_at = now
        return True
    return False


def record_failure(store: Store, rules: Rules, username: str, address: str | None,
                   user_id: int | None = None, what: str = "sign-in") -> list[str]:
    """Count a failed sign-in under the name and the address, with its audit event; the keys it locked."""
    now = utcnow()
    locked = []
    with unit_of_work(store) as session:
        for key in (account_key(username), address_key(address)):
            if _count(session, rules, key, now):
                locked.append(key)
        record_audit(session, ANONYMOUS, "login_failed", entity_type="users", entity_id=user_id,
                     note=f"{what} failed for {username!r} from {address or 'unknown'}"[:500])
        for key in locked:
            record_audit(session, ANONYMOUS, "login_locked", entity_type="users", entity_id=user_id,
                         note=f"{key} locked after repeated failed sign-ins"[:500])
    return locked


def record_refusal(store: Store, username: str, address: str | None, verdict: Verdict) -> None:
    """Keep a sign-in refused by a lock or a delay in the audit trail (no password was checked)."""
    state = "locked" if verdict.locked else f"waiting {verdict.retry_after} s"
    with unit_of_work(store) as session:
        record_audit(session, ANONYMOUS, "login_refused", entity_type="users",
                     note=f"sign-in for {username!r} from {address or 'unknown'} refused: {verdict.holder} "
                          f"{state}"[:500])


def clear_account(session: Session, username: str) -> None:
    """Forget a name's failures after its owner signed in (the address keeps its count)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(username),
                                                LoginThrottle.locked_at.is_(None)))


def unlock(store: Store, actor: Actor, username: str | None = None, address: str | None = None) -> list[str]:
    """Lift the lock and forget the failures of a name and/or an address; the keys that were held."""
    if not username and not address:
        raise InvalidInput("give a user name or an address to unlock", field="username")
    keys = [k for k in (account_key(username) if username else None, address_key(address) if address else None)
            if k]
    with unit_of_work(store) as session:
        held = list(session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(keys))))
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        record_audit(session, actor, "unlock", entity_type="users",
                     note=f"unlocked {', '.join(keys)}" + ("" if held else " (nothing was held)"))
    return held


def locks(store: Store) -> list[LoginThrottle]:
    """Every locked name and address, oldest lock first."""
    with store.session() as session:
        return list(session.scalars(select(LoginThrottle).where(LoginThrottle.locked_at.is_not(None))
                                    .order_by(LoginThrottle.locked_at)))


def signed_in(store: Store, actor: Actor, address: str | None) -> None:
    """Record a successful sign-in and forget its name's failures, in one transaction."""
    with unit_of_work(store) as session:
        clear_account(session, actor.name)
        record_audit(session, actor, "login", entity_type="users", entity_id=actor.id,
                     note=f"from {address or 'unknown'}")
