"""Accounts: creating users, checking passwords, and the demo accounts of the demo registry."""

from __future__ import annotations

import secrets
import string
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import object_session
from werkzeug.security import check_password_hash, generate_password_hash

from registry import demo as demo_data
from registry.db import Store
from registry.models import User
from registry.models.vocab import ROLES
from registry.services import divisions
from registry.services.base import Actor, Conflict, InvalidInput, record_audit, snapshot, unit_of_work

MIN_PASSWORD = 12
COMMON_PASSWORDS = Path(__file__).resolve().parents[1] / "data" / "common-passwords.txt"
_EDGES = string.digits + string.punctuation + " "

# The demo registry's accounts (demo data); created only by the demo loader, refused in production.
DEMO_USERS = demo_data.DEMO_ACCOUNTS


def _validate(username: str, password: str, roles, counties, divisions=None) -> None:
    if not username or not username.strip() or len(username) > 64 or any(c.isspace() for c in username):
        raise InvalidInput(f"username {username!r} must be 1-64 characters without spaces", field="username")
    check_new_password(password, username)
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise InvalidInput(f"roles {list(roles)!r}: choose from {', '.join(ROLES)}", field="roles")
    # A manager's scope lists counties, or a city (or province) that stands for all the counties under it.
    known = divisions.by_code if divisions is not None else {}
    bad = [c for c in counties if c not in known or known[c].level not in ("province", "city", "county")]
    if bad:
        raise InvalidInput(divisions.unknown(bad[0], "county or city").replace("is not a known county",
                                                                               "is not a known county or city")
                           if divisions is not None else f"counties {bad!r} are not known", field="counties")
    if "manager" in roles and not counties:
        raise InvalidInput("a manager must be given at least one county", field="counties")


@cache
def common_passwords() -> frozenset[str]:
    """The list of passwords (and stems) guessed first, shipped in registry/data."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


class PasswordRefused(InvalidInput):
    """A password the rules refuse; ``rule`` names the rule so a page can say it in its own language."""

    def __init__(self, rule: str, message: str, field: str):
        super().__init__(message, field=field)
        self.rule = rule


def check_new_password(password: str | None, username: str | None = None, field: str = "password") -> None:
    """Refuse a new password that is short or guessable; the message says which rule it breaks."""
    if password is None or len(password) < MIN_PASSWORD:
        raise PasswordRefused("short", f"{field} must have at least {MIN_PASSWORD} characters", field)
    lowered = password.lower()
    stem = lowered.strip(_EDGES)
    if not stem:
        raise PasswordRefused("no_words", f"{field} is only digits and punctuation, which are guessed first; "
                              "add words", field)
    if lowered in common_passwords() or stem in common_passwords():
        raise PasswordRefused("common", f"{field} is on the list of common passwords (or is one with digits or "
                              "signs added); choose another", field)
    if username and stem in (username.lower(), username.lower().strip(_EDGES)):
        raise PasswordRefused("user_name", f"{field} must not be the user name (with or without digits)", field)
    if len(set(lowered)) < 4:
        raise PasswordRefused("few_characters", f"{field} repeats too few different characters; choose another",
                              field)


def create_user(store: Store, actor: Actor, username: str, password: str, roles, counties=(),
                display_name: str | None = None, is_demo: bool = False) -> User:
    """Create an account with a salted password hash; the audit event never holds the hash."""
    roles, counties = list(roles), list(counties)
    _validate(username, password, roles, counties, divisions.current(store))
    with unit_of_work(store) as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"username {username!r} is already taken", field="username")
        user = User(username=username, display_name=display_name or username, roles=roles, counties=counties,
                    password_hash=generate_password_hash(password), is_demo=is_demo)
        session.add(user)
        record_audit(session, actor, "create", user)
    return user


def retire_user(store: Store, actor: Actor, username: str) -> User:
    """Retire an account: it can no longer sign in, and its row and history stay."""
    with unit_of_work(store) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise InvalidInput(f"no user named {username!r}", field="username")
        before = snapshot(user)
        user.status = "retired"
        # Retiring ends every session the user still holds, not only future sign-ins.
        user.session_generation = (user.session_generation or 0) + 1
        record_audit(session, actor, "retire", user, before=before)
    return user


@cache
def _dummy_hash() -> str:
    # Hashed with the same method and cost as real passwords, so an unknown name costs as much as a known one.
    return generate_password_hash(secrets.token_hex(16))


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same answer for unknown name and wrong password).

    One password hash is checked either way: against the user's, or against a dummy when there is no such
    active user, so the answer takes as long for a name that does not exist.
    """
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username, User.status == "active"))
        stored = user.password_hash if user is not None else _dummy_hash()
        matches = check_password_hash(stored, password or "")
        return user if user is not None and matches else None


def end_sessions(store: Store, actor: Actor, user_id: int, action: str = "logout") -> int:
    """Raise the user's session generation, ending every session they hold; the new generation."""
    with unit_of_work(store) as session:
        user = session.get(User, user_id)
        if user is None:
            raise InvalidInput(f"no user {user_id}", field="user")
        user.session_generation = (user.session_generation or 0) + 1
        record_audit(session, actor, action, entity_type="users", entity_id=user.id)
        return user.session_generation


def change_password(store: Store, actor: Actor, user_id: int, current: str, new: str, repeat: str) -> int:
    """Replace a user's password after checking the current one; every session of theirs ends.

    Returns the new session generation, which the caller gives the session that made the change.

    A wrong current password raises InvalidInput on ``current_password`` (the caller counts it as a failed
    sign-in); nothing is written unless every check passes.
    """
    with unit_of_work(store) as session:
        user = session.get(User, user_id)
        if user is None or user.status != "active":
            raise InvalidInput(f"no active user {user_id}", field="user")
        if not check_password_hash(user.password_hash, current or ""):
            raise PasswordRefused("wrong_current", "current_password is not this account's password",
                                  "current_password")
        check_new_password(new, user.username, field="new_password")
        if new != repeat:
            raise PasswordRefused("not_repeated", "repeat_password is not the same as new_password", "repeat_password")
        if check_password_hash(user.password_hash, new):
            raise PasswordRefused("unchanged", "new_password must differ from the current one", "new_password")
        before = snapshot(user)
        user.password_hash = generate_password_hash(new)
        user.must_change_password = False
        user.session_generation = (user.session_generation or 0) + 1
        generation = user.session_generation
        record_audit(session, actor, "password_change", user, before=before)
    return generation


def reset_password(store: Store, actor: Actor, username: str) -> str:
    """Give a user a one-time password they must change at next sign-in; ends their sessions, lifts a lock.

    Returns the one-time password: it is shown once to the administrator and only its hash is kept.
    """
    from registry.models import LoginThrottle
    from registry.services.logins import account_key

    one_time = secrets.token_urlsafe(12)
    with unit_of_work(store) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.status != "active":
            raise InvalidInput(f"no active user named {username!r}", field="username")
        before = snapshot(user)
        user.password_hash = generate_password_hash(one_time)
        user.must_change_password = True
        user.session_generation = (user.session_generation or 0) + 1
        throttle = session.get(LoginThrottle, account_key(username))
        if throttle is not None:
            session.delete(throttle)
        record_audit(session, actor, "password_reset", user, before=before)
    return one_time


def get_user(store: Store, user_id: int) -> User | None:
    with store.session() as session:
        user = session.get(User, user_id)
        return user if user is not None and user.status == "active" else None


def demo_usernames(store: Store) -> list[str]:
    """Names of active demo accounts (production refuses to start while any exist)."""
    with store.session() as session:
        return list(session.scalars(select(User.username).where(User.is_demo, User.status == "active")))


def create_demo_users(store: Store, actor: Actor) -> list[str]:
    """Create the demo registry's accounts; returns their usernames."""
    for username, display, roles, counties, password in DEMO_USERS:
        create_user(store, actor, username, password, roles, counties, display_name=display, is_demo=True)
    return [u[0] for u in DEMO_USERS]


def as_actor(user: User, source=None) -> Actor:
    """The actor of a signed-in user; a city in the user's scope stands for all of its counties (read from
    the divisions of ``source``, a Store or Session; without one, from the session the user came from)."""
    counties = tuple(user.counties or ())
    source = source if source is not None else object_session(user)
    if counties and source is not None:
        counties = divisions.current(source).expand(counties)
    return Actor(name=user.username, id=user.id, roles=tuple(user.roles or ()), counties=counties)


def list_users(store: Store) -> list[User]:
    """Every account, active first, then by name (for the administrators' page)."""
    with store.session() as session:
        return list(session.scalars(select(User).order_by(User.status != "active", User.username)))
