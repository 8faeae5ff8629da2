"""`flask --app registry backup DEST` and `restore SRC`: a consistent copy of the store and its files, and back."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from registry import backup as backups
from registry.db import StoreError
from registry.extensions import get_store


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", type=click.IntRange(min=1), default=None, metavar="N",
              help="After a successful backup, remove all but the N newest backups in DEST's folder.")
@with_appcontext
def backup_command(dest: Path, keep: int | None):
    """Copy the store (while the registry serves), its photos, scans and imported files, with a manifest."""
    store = get_store()
    try:
        if not store.exists:
            raise StoreError(f"there is no registry at {store.path} to back up")
        manifest = backups.backup(store, current_app.config, current_app.instance_path, dest)
    except (backups.BackupError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"backed up the {store.kind} registry (schema {manifest['schema_revision']}): "
               f"{len(manifest['tables'])} tables, {rows} rows, {len(manifest['files'])} files -> {dest}")
    if keep:
        for folder in backups.prune(dest.absolute().parent, keep):
            click.echo(f"removed the older backup {folder}")


@click.command("restore")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def restore_command(src: Path):
    """Check a backup against its manifest, then restore it into an empty store and the file folders."""
    store = get_store()
    try:
        manifest = backups.restore(store, current_app.config, current_app.instance_path, src)
    except (backups.BackupError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"restored {len(manifest['tables'])} tables ({rows} rows, every count checked) and "
               f"{len(manifest['files'])} files from the backup of {manifest['created']}; "
               f"run 'flask --app registry db upgrade' if this registry's code is newer than schema "
               f"{manifest['schema_revision']}")
