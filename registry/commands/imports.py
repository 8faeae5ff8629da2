"""`flask --app registry import …`: bring ledgers into the registry from the command line, with a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from registry.extensions import get_store
from registry.services import Actor, ServiceError

import_cli = click.Group("import", help="Import ledgers (台账) into the registry.")


@import_cli.command("relocations")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", default="EPSG:4326", show_default=True,
              help="Coordinate system of the ledger's points: EPSG:4326 (WGS84), EPSG:4490 (CGCS2000), GCJ-02, BD-09.")
@click.option("--mapping", "mapping_opt", default=None,
              help="A saved column mapping's name, a JSON file of {header: field}, or header=field pairs split by ';'.")
@click.option("--accept-proposals", is_flag=True,
              help="Read each column whose heading only looks like a field's (as the dry run proposes) as that field.")
@click.option("--ignore-column", "ignored", multiple=True, metavar="HEADER",
              help="Leave out this column (the dry run lists every column not used); may be given more than once.")
@click.option("--save-mapping", "save_as", default=None, metavar="NAME",
              help="Save the mapping as used (with the proposals confirmed and columns ignored) under this name.")
@click.option("--dry-run/--commit", default=True, show_default=True,
              help="Only check and list every row's problems (default), or import when the check is clean.")
@with_appcontext
def import_relocations(file, crs, mapping_opt, accept_proposals, ignored, save_as, dry_run):
    """Check a relocation ledger (XLSX or CSV) and, with --commit, import it: all rows or none.

    Every column of the sheet is listed as mapped, proposed, ignored or unused; a commit waits until
    each proposed or unused column is decided (--accept-proposals, --ignore-column or --mapping).
    """
    from registry.services.relocations import ledger as imports

    store = get_store()
    try:
        mapping = _mapping(store, mapping_opt)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    for header in ignored:
        mapping[header] = ""
    bars = _Bars()
    try:
        if dry_run:
            result = imports.preview(store, file, file.name, crs, mapping, progress=bars.progress,
                                     accept_proposals=accept_proposals)
            bars.finish()
            _report_dry_run(result, imports)
            _save(store, imports, save_as, imports.decisions(result.ledger, mapping))
            click.echo("clean: run again with --commit to import")
            return
        outcome = imports.run_import(store, Actor.system("cli import"), file, file.name, crs, mapping,
                                     progress=bars.progress, accept_proposals=accept_proposals)
        if save_as:
            with store.session() as session:
                from registry.models import ImportBatch

                used = session.get(ImportBatch, outcome.batch_id).mapping
            _save(store, imports, save_as, dict(used or {}))
    except ServiceError as exc:
        bars.finish()
        for issue in exc.errors[:50]:
            where = f"row {issue.row}" if issue.row else "file"
            click.echo(f"error   {where:<10} {issue.column or '':<12} {issue.value or '':<20} {issue.why}", err=True)
        raise click.ClickException(exc.message) from None
    bars.finish()
    if outcome.already_imported:
        click.echo(f"already imported (import {outcome.batch_id}); nothing added")
    else:
        click.echo(f"imported {outcome.added} relocations ({outcome.existing} already in the registry, "
                   f"{outcome.warnings} warnings); import {outcome.batch_id}; {outcome.tombs_added} tombs and "
                   f"{outcome.martyrs_added} martyrs added at the destinations; {outcome.originals_retired} original "
                   "graves retired")


class _Bars:
    """The import's progress on stderr: a count while the file is read, then a bar per phase."""

    def __init__(self):
        self.bars: dict[str, object] = {}

    def progress(self, phase, done, total):
        if not total:
            # Reading a file: its row count is not known until the end, so count instead of a bar.
            click.echo(f"\r{phase:>6} {done} rows", nl=False, err=True)
            return
        if phase not in self.bars:
            self.finish()
            click.echo("", err=True)
            self.bars[phase] = click.progressbar(length=total, label=f"{phase:>6}", file=sys.stderr)
        bar = self.bars[phase]
        bar.update(done - bar.pos)

    def finish(self):
        for bar in self.bars.values():
            bar.render_finish()


def _report_dry_run(result, imports) -> None:
    """Print the dry run: every column, every issue, the counts; refuse (exit 1) when it is not clean."""
    if result.file_error:
        raise click.ClickException(result.file_error)
    for c in result.ledger.columns:
        click.echo(f"column  {c.letter:<4} {c.header:<16} {c.status:<9} {c.field or '':<18} {c.why}")
    for issue in result.ledger.issues:
        where = f"row {issue.row}" if issue.row else "file"
        click.echo(f"{issue.level:<7} {where:<10} {issue.column or '':<12} {issue.value or '':<20} {issue.why}")
    click.echo(f"{result.rows_read} rows read: {len(result.new)} new, {result.existing} already in the "
               f"registry, {len(result.errors)} errors, {len(result.warnings)} warnings")
    if result.origin_graves:
        click.echo(f"{len(result.origin_graves)} original graves would be retired (their martyrs reburied):")
        for grave in result.origin_graves[:20]:
            click.echo(f"  tomb {grave.tomb_id:<8} {grave.martyr_name:<10} {grave.place}")
        if len(result.origin_graves) > 20:
            click.echo(f"  … and {len(result.origin_graves) - 20} more")
    if result.already_imported is not None:
        click.echo("this ledger was imported before; importing it again adds nothing")
    if result.errors:
        raise click.ClickException("the ledger has errors; fix them (or the mapping) before importing")
    if result.undecided:
        raise click.ClickException(imports.undecided_message(result.undecided) + ". Confirm the proposals "
                                   "with --accept-proposals, leave a column out with --ignore-column, or map "
                                   "it with --mapping")


def _save(store, imports, name: str | None, mapping: dict) -> None:
    """Remember the mapping as used under ``name`` (saved column mappings), so the next import needs no decisions."""
    if name:
        imports.save_mapping(store, Actor.system("cli import"), name, mapping)
        click.echo(f"column mapping saved as {name!r}")


def _mapping(store, option: str | None) -> dict:
    from registry.services.relocations import ledger as imports

    if not option:
        return {}
    path = Path(option)
    if path.suffix == ".json" and path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"mapping file {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.ClickException(f"mapping file {path} must hold an object of header: field")
        return {str(k): str(v or "") for k, v in loaded.items()}
    if "=" in option:
        return imports.parse_mapping_text(option.replace(";", "\n"))
    return imports.get_mapping(store, option)
