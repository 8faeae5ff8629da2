"""`flask --app registry ratelimits …`: the rate-limit buckets kept in the store."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.extensions import get_store
from registry.services.rate_buckets import purge_refilled

ratelimits_cli = AppGroup("ratelimits", help="The per-client rate-limit buckets kept in the store.")


@ratelimits_cli.command("purge")
def ratelimits_purge():
    """Delete every bucket that has refilled (the server also does this now and then on its own)."""
    deleted = purge_refilled(get_store())
    click.echo(f"purged {deleted} refilled rate bucket(s)")
