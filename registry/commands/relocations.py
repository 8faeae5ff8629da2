"""`flask --app registry relocations …`: upkeep of relocation records from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.db import StoreError
from registry.extensions import get_store
from registry.services import Actor, ServiceError

relocations_cli = AppGroup("relocations", help="Relocation records (迁移记录): upkeep.")


@relocations_cli.command("link-tombs")
@click.option("--apply", "apply_changes", is_flag=True,
              help="Write the tombs (default: a dry run that only counts what would be written).")
def link_tombs(apply_changes):
    """Give every relocation with a destination and no tomb the tomb at its destination plot."""
    from registry.services.relocations import link_missing_tombs

    try:
        report = link_missing_tombs(get_store(), Actor.system("cli relocations"), dry_run=not apply_changes)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    for code, why in report.refused:
        click.echo(f"refused {code}: {why}")
    verb = "would be" if report.dry_run else "were"
    click.echo(f"{report.considered} relocations with a destination have no tomb: {report.linked} {verb} linked to "
               f"the tomb at their plot, {report.created} {verb} given a new tomb, {len(report.refused)} refused")
    if report.originals_retired:
        click.echo(f"{report.originals_retired} original graves of reburied martyrs {verb} retired")
    if report.without_destination:
        click.echo(f"{report.without_destination} relocations have no destination yet: no tomb can be placed")
    if report.dry_run:
        click.echo("dry run: nothing was written; run again with --apply to write")
