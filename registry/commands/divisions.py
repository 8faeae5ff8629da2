"""`flask --app registry divisions …`: loading the administrative divisions the registry serves."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from geodata.divisions import read_divisions
from geodata.readers import ReadError
from registry.db import StoreError
from registry.extensions import get_store
from registry.services import Actor, ServiceError

divisions_cli = AppGroup("divisions", help="Administrative divisions (行政区划): load and list.")


@divisions_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run/--commit", default=False,
              help="Only check the file and say what would change (default: --commit, write it).")
def divisions_load(path, dry_run):
    """Load divisions from a CSV, GeoJSON or GeoPackage file; any bad row refuses the whole file."""
    from registry.services.divisions import load_rows

    try:
        rows = read_divisions(path.read_bytes(), path.name)
        report = load_rows(get_store(), Actor.system("cli divisions"), rows, commit=not dry_run, source=path.name)
    except ReadError as exc:
        raise click.ClickException(f"{path.name}: {exc}") from None
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "loaded" if report.committed else "would load"
    click.echo(f"{verb}: {len(report.added)} new divisions, {len(report.replaced)} replaced, "
               f"{report.aliases} former names")
    if not report.committed:
        click.echo("dry run: nothing was written; run again with --commit to write")


@divisions_cli.command("list")
@click.option("--level", type=click.Choice(["province", "city", "county", "township", "village"]), default="county",
              show_default=True, help="Which divisions to list.")
@click.option("--parent", default=None, help="Only those under this division (a code: a city, a county…).")
def divisions_list(level, parent):
    """Print the current divisions of a level (code, name, parent, seat lon, lat); counties by default."""
    from registry.services.divisions import current

    divisions = current(get_store())
    under = set(divisions.descendants(parent)) if parent else None
    if parent and parent not in divisions.by_code:
        raise click.ClickException(f"parent {parent!r} is not a known division")
    for d in divisions.current(level):
        if under is not None and d.code not in under:
            continue
        above = divisions.city_of(d.code) if level == "county" else d.parent
        click.echo(f"{d.code}\t{d.name}\t{divisions.name(above, '') if above else ''}\t{d.lon}\t{d.lat}")
