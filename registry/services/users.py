"""Accounts: creating users, checking passwords, and the demo accounts of the demo registry."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from registry.db import Store
from registry.models import User
from registry.models.vocab import LONGYAN_COUNTIES, ROLES
from registry.services.base import Actor, Conflict, InvalidInput, record_audit, snapshot, unit_of_work

MIN_PASSWORD = 10

# The demo registry's accounts; created only by the demo loader, refused in production.
DEMO_USERS = (
    ("admin", "演示管理员（示例）", ("admin",), (), "demo-admin-pass"),
    ("manager", "上杭县管护员（示例）", ("manager",), ("350823",), "demo-manager-pass"),
    ("manager2", "长汀县管护员（示例）", ("manager",), ("350821", "350825"), "demo-manager-pass"),
    ("planner", "规划科（示例）", ("planner",), (), "demo-planner-pass"),
    ("reviewer", "审核人（示例）", ("reviewer",), (), "demo-reviewer-pass"),
)


def _validate(username: str, password: str, roles, counties) -> None:
    if not username or not username.strip() or len(username) > 64 or any(c.isspace() for c in username):
        raise InvalidInput(f"username {username!r} must be 1-64 characters without spaces", field="username")
    if password is None or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters", field="password")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise InvalidInput(f"roles {list(roles)!r}: choose from {', '.join(ROLES)}", field="roles")
    bad = [c for c in counties if c not in LONGYAN_COUNTIES]
    if bad:
        raise InvalidInput(f"counties {bad!r} are not known county codes ({', '.join(LONGYAN_COUNTIES)})",
                           field="counties")
    if "manager" in roles and not counties:
        raise InvalidInput("a manager must be given at least one county", field="counties")


def create_user(store: Store, actor: Actor, username: str, password: str, roles, counties=(),
                display_name: str | None = None, is_demo: bool = False) -> User:
    """Create an account with a salted password hash; the audit event never holds the hash."""
    roles, counties = list(roles), list(counties)
    _validate(username, password, roles, counties)
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
        record_audit(session, actor, "retire", user, before=before)
    return user


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (same answer for unknown name and wrong password)."""
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username, User.status == "active"))
        if user is None or not check_password_hash(user.password_hash, password or ""):
            return None
        return user


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


def as_actor(user: User) -> Actor:
    return Actor(name=user.username, id=user.id, roles=tuple(user.roles or ()), counties=tuple(user.counties or ()))
