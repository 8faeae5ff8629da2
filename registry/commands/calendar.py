"""`flask --app registry calendar …`: the days of remembrance and the work orders prepared before them."""

from __future__ import annotations

from datetime import date, timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from registry.extensions import get_store
from registry.services import Actor, InvalidInput
from registry.services.manage import calendar as service

calendar_cli = AppGroup("calendar", help="Days of remembrance: Qingming, Martyrs' Day, anniversaries, work orders.")


def _day(_ctx, _param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@calendar_cli.command("prepare")
@click.option("--today", callback=_day, default=None, metavar="DATE",
              help="Prepare as if today were DATE (YYYY-MM-DD); default: today in Beijing time.")
def calendar_prepare(today):
    """Make the cleaning and preparation work orders now due: one per facility and day, never twice."""
    try:
        lead = service.LeadDays.from_config(current_app.config)
    except InvalidInput as exc:
        raise click.ClickException(exc.message) from None
    result = service.prepare(get_store(), Actor.system("calendar prepare"), today=today, lead=lead)
    for facility_id, on, task_id in result.created:
        click.echo(f"created work order {task_id} for facility {facility_id}, day {on.isoformat()}")
    for facility_id, on, task_id, added in result.updated:
        click.echo(f"work order {task_id} for facility {facility_id}, day {on.isoformat()}, now also names "
                   + "; ".join(added))
    for bad in result.bad_dates:
        reason = service.BAD_DATE_REASONS[bad.reason][1]
        click.echo(f"skipped martyr {bad.martyr_id} {bad.name}: date of death {bad.raw!r} is {reason}")
    click.echo(f"{result.today.isoformat()}: {len(result.created)} work order(s) created, {result.existing} already "
               f"there, {len(result.bad_dates)} date(s) of death skipped (listed at /manage/calendar/dates)")


@calendar_cli.command("qingming")
@click.argument("years", nargs=-1, type=click.IntRange(1986, 2150))
def calendar_qingming(years):
    """Print the day of Qingming (and the moment of the solar term, Beijing time) for YEARS."""
    from registry.solar_terms import BEIJING, QINGMING_LONGITUDE, term_moment

    for year in years or (service.today_in_beijing().year,):
        moment = term_moment(year, QINGMING_LONGITUDE, date(year, 4, 5)).astimezone(BEIJING)
        minute = moment + timedelta(seconds=30)  # to the nearest minute, as the almanac publishes it
        click.echo(f"{year}: {moment.date().isoformat()} (the Sun reaches 15° at {minute:%H:%M} Beijing time)")
