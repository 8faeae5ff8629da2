"""Commands on app.cli: the store (db), the demo registry (demo), accounts (users) and API tokens (tokens)."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from registry.db import StoreError
from registry.extensions import get_store
from registry.models.vocab import ROLES
from registry.services import Actor, ServiceError

db_cli = AppGroup("db", help="Create, migrate and check the registry store.")
demo_cli = AppGroup("demo", help="The demo registry (two demo cities) and large synthetic sets.")
users_cli = AppGroup("users", help="Accounts and roles.")
tokens_cli = AppGroup("tokens", help="API tokens for GIS clients (QGIS, GDAL, a provincial platform).")


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _say_key_made() -> None:
    # The app wrote a new key file while starting this command: tell the operator where it is.
    if current_app.config.get("SECRET_KEY_CREATED"):
        click.echo(f"wrote a new random secret key to {current_app.config['SECRET_KEY_FILE']} (mode 0600); "
                   "keep it private, and set REGISTRY_SECRET_KEY instead in production")


@db_cli.command("upgrade")
def db_upgrade():
    """Create the registry if its GeoPackage file is absent, then apply pending migrations."""
    from registry.migrate import upgrade

    store = get_store()
    try:
        revision = upgrade(store)
    except StoreError as exc:
        _fail(exc)
    _say_key_made()
    click.echo(f"{store.kind} registry at schema revision {revision}")


@db_cli.command("check")
def db_check():
    """Say whether the store can serve, and its schema revision."""
    from registry.migrate import current_revision, head_revision

    store = get_store()
    try:
        store.check()
    except StoreError as exc:
        _fail(exc)
    current, head = current_revision(store), head_revision()
    click.echo(f"{store.kind} registry: schema revision {current} (head {head})")
    if current != head:
        raise click.ClickException("migrations are pending: run 'flask --app registry db upgrade'")


@demo_cli.command("load")
@click.option("--scale", type=click.IntRange(min=1), default=None,
              help="Load a synthetic set of this many tombs (for benchmarks) instead of the demo registry.")
@click.option("--seed", type=int, default=2022, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the registry already holds facilities.")
def demo_load(scale, seed, if_empty):
    """Create the registry if absent and load the deterministic demo data (示例数据) into it."""
    from registry.migrate import upgrade
    from registry.services.demo import load_demo
    from registry.services.facilities import registry_is_empty
    from registry.services.users import create_demo_users

    store = get_store()
    try:
        upgrade(store)
    except StoreError as exc:
        _fail(exc)
    _say_key_made()
    if if_empty and not registry_is_empty(store):
        click.echo("registry already holds data; demo not loaded")
        return
    bars = {}

    def progress(table, done, total):
        if table not in bars:
            for bar in bars.values():
                bar.render_finish()
            bars[table] = click.progressbar(length=total, label=f"{table:>18}")
        bar = bars[table]
        bar.update(done - bar.pos)

    started = time.perf_counter()
    try:
        counts = load_demo(store, scale=scale, seed=seed, progress=progress)
        if scale is None:
            create_demo_users(store, Actor.system("demo loader"))
    except ServiceError as exc:
        _fail(exc)
    for bar in bars.values():
        bar.render_finish()
    elapsed = time.perf_counter() - started
    click.echo(f"loaded in {elapsed:.1f} s: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@users_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), required=True)
@click.option("--county", "counties", multiple=True, help="County adcode a manager is responsible for.")
@click.option("--name", "display_name", default=None)
@click.password_option()
def users_create(username, roles, counties, display_name, password):
    """Create an account."""
    from registry.services.users import create_user

    try:
        create_user(get_store(), Actor.system("cli"), username, password, roles, counties, display_name)
    except (ServiceError, StoreError) as exc:
        _fail(exc)
    click.echo(f"created {username} ({', '.join(roles)})")


@users_cli.command("retire")
@click.argument("username")
def users_retire(username):
    """Retire an account: it can no longer sign in; its history stays."""
    from registry.services.users import retire_user

    try:
        retire_user(get_store(), Actor.system("cli"), username)
    except (ServiceError, StoreError) as exc:
        _fail(exc)
    click.echo(f"retired {username}")


@users_cli.command("unlock")
@click.argument("username", required=False)
@click.option("--address", default=None, help="Unlock a client address instead of (or as well as) an account.")
def users_unlock(username, address):
    """Lift a sign-in lock on an account name and/or a client address, forgetting its failures."""
    from registry.services.logins import unlock

    if not username and not address:
        raise click.UsageError("give NAME, --address ADDR or both")
    try:
        held = unlock(get_store(), Actor.system("cli"), username, address)
    except (ServiceError, StoreError) as exc:
        _fail(exc)
    what = " and ".join(x for x in (username and f"account {username}", address and f"address {address}") if x)
    click.echo(f"unlocked {what}" if held else f"{what}: nothing was locked or counted")


@users_cli.command("locked")
def users_locked():
    """List account names and client addresses locked after repeated failed sign-ins."""
    from registry.services.logins import locks

    try:
        rows = locks(get_store())
    except StoreError as exc:
        _fail(exc)
    if not rows:
        click.echo("nothing is locked")
    for row in rows:
        click.echo(f"{row.key}  {row.failures} failures, locked {row.locked_at:%Y-%m-%d %H:%M} UTC")


@users_cli.command("reset-password")
@click.argument("username")
def users_reset_password(username):
    """Give an account a one-time password (printed once) that must be changed at the next sign-in."""
    from registry.services.users import reset_password

    try:
        one_time = reset_password(get_store(), Actor.system("cli"), username)
    except (ServiceError, StoreError) as exc:
        _fail(exc)
    click.echo(f"{username}: every session ended, any sign-in lock lifted. One-time password (shown once; "
               "the user must change it at the next sign-in):")
    click.echo(one_time)


# The service names the field at fault; the operator typed an option, so name that instead.
_TOKEN_OPTIONS = {"user": "--user", "role": "--role", "expires": "--expires", "label": "--label", "id": "ID"}


def _token_fail(exc: ServiceError) -> None:
    option = _TOKEN_OPTIONS.get(exc.field or "")
    raise click.ClickException(f"{option}: {exc.message}; nothing was written" if option else exc.message)


@tokens_cli.command("create")
@click.option("--user", "username", required=True, help="The account the token acts for.")
@click.option("--role", required=True, help=f"One role the user holds: {', '.join(ROLES)}.")
@click.option("--expires", "expires_days", type=int, default=None,
              help="Days until the token stops working (default: it does not expire).")
@click.option("--label", default=None, help="Which system or person the token is for, shown in 'tokens list'.")
def tokens_create(username, role, expires_days, label):
    """Issue an API token; the secret is printed once and only its hash is kept."""
    from registry.services.gis.tokens import create_token

    try:
        info, secret = create_token(get_store(), Actor.system("cli"), username, role, expires_days, label)
    except ServiceError as exc:
        _token_fail(exc)
    except StoreError as exc:
        _fail(exc)
    expires = info.expires_at.strftime("%Y-%m-%d %H:%M UTC") if info.expires_at else "never"
    click.echo(f"token {info.id} for {username} ({role}), label {info.label!r}, expires {expires}")
    click.echo("Copy the secret now; it is not stored and cannot be shown again:")
    click.echo(secret)


@tokens_cli.command("list")
def tokens_list():
    """List API tokens: id, first characters, user, role, state and expiry (never the secrets)."""
    from registry.services.gis.tokens import list_tokens

    try:
        rows = list_tokens(get_store())
    except StoreError as exc:
        _fail(exc)
    if not rows:
        click.echo("no API tokens")
        return
    click.echo(f"{'id':>4}  {'prefix':<9} {'user':<14} {'role':<9} {'state':<8} {'expires':<17} label")
    for row in rows:
        expires = row.expires_at.strftime("%Y-%m-%d %H:%M") if row.expires_at else "never"
        click.echo(f"{row.id:>4}  {row.prefix + '…':<9} {row.username or '-':<14} {','.join(row.roles):<9} "
                   f"{row.state:<8} {expires:<17} {row.label}")


@tokens_cli.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def tokens_revoke(token_id):
    """Revoke an API token: it stops working at once; its record and history stay."""
    from registry.services.gis.tokens import revoke_token

    try:
        info = revoke_token(get_store(), Actor.system("cli"), token_id)
    except ServiceError as exc:
        _token_fail(exc)
    except StoreError as exc:
        _fail(exc)
    click.echo(f"revoked token {info.id} ({info.prefix}…, {info.label})")


def init_app(app: Flask) -> None:
    for group in (db_cli, demo_cli, users_cli, tokens_cli):
        app.cli.add_command(group)
    from registry.commands.imports import import_cli
    app.cli.add_command(import_cli)
    from registry.commands.relocations import relocations_cli
    app.cli.add_command(relocations_cli)
    from registry.commands.divisions import divisions_cli
    app.cli.add_command(divisions_cli)
    from registry.commands.uploads import uploads_cli
    app.cli.add_command(uploads_cli)
    from registry.commands.serving import ratelimits_cli
    app.cli.add_command(ratelimits_cli)
    from registry.commands.calendar import calendar_cli
    app.cli.add_command(calendar_cli)
    from registry.commands.backup import backup_command, restore_command
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
