"""`flask --app registry uploads …`: staged uploads (GIS imports, relocation ledgers) waiting for their commit."""

from __future__ import annotations

import shutil

import click
from flask import current_app
from flask.cli import AppGroup

from registry import uploads as staging

uploads_cli = AppGroup("uploads", help="Files uploaded for an import, kept between the dry run and the commit.")


@uploads_cli.command("purge")
@click.option("--older-than", "hours", type=click.FloatRange(min=0, min_open=True), default=None, metavar="HOURS",
              help="Remove staged files unused for longer than this (default: UPLOAD_RETENTION_HOURS, 72).")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def uploads_purge(hours, dry_run):
    """Remove staged uploads nobody committed; the archived originals of committed imports are never removed."""
    areas = staging.areas(current_app.config, current_app.instance_path)
    limit = hours if hours is not None else staging.retention_hours(current_app.config)
    verb = "would remove" if dry_run else "removed"
    total = 0
    for name, area in areas.items():
        removed = area.purge(older_than_hours=limit, dry_run=dry_run)
        for path in removed:
            click.echo(f"{verb} {path}")
        total += len(removed)
        click.echo(f"{name}: {verb} {len(removed)} staged file(s) unused for more than {limit:g} hours "
                   f"from {area.folder}")
    leftovers = staging.abandoned_receipts(current_app.instance_path)
    for path in leftovers:
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
        click.echo(f"{verb} {path}")
    if leftovers:
        click.echo(f"receiving: {verb} {len(leftovers)} unfinished upload(s) older than "
                   f"{staging.RECEIVING_MAX_HOURS:g} hour(s)")
    total += len(leftovers)
    if not total:
        click.echo("nothing to purge")
