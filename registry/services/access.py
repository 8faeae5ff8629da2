"""Rights by role and county: which counties an actor reads and writes, and who sees personal fields."""

from __future__ import annotations

from collections.abc import Iterable

from registry.services.base import Actor, Forbidden
from registry.services.divisions import label

# Fields that name or reach a private person: a family's consent, a caretaker's phone, a visitor's contact.
PERSONAL_FIELDS = frozenset({"consent_by", "consent_relation", "caretaker_phone", "contact", "client_hash"})
# Of those, what visitors gave us: only the county's managers (who answer them) and administrators see it.
VISITOR_FIELDS = frozenset({"contact", "client_hash"})


def readable_counties(actor: Actor, *, planners: bool = False) -> tuple[str, ...] | None:
    """The counties whose staff records ``actor`` may read (None: all of them; (): none).

    Planners read no county's managers' area (facility care, work orders); where an area is theirs too
    (relocations, for planning), ``planners=True`` lets them read every county as reviewers do.
    """
    if actor.can("admin") or actor.can("reviewer") or (planners and actor.can("planner")):
        return None
    if actor.can("manager"):
        return tuple(actor.counties)
    return ()


def writable_counties(actor: Actor) -> tuple[str, ...] | None:
    """The counties whose records ``actor`` may change (None: all of them, administrators only)."""
    if actor.can("admin"):
        return None
    if actor.can("manager"):
        return tuple(actor.counties)
    return ()


def _name(county_code: str | None) -> str:
    return label(county_code)


def may_county(actor: Actor, counties: Iterable[str | None], *, write: bool = False, planners: bool = False) -> bool:
    """Whether ``actor`` may read (or write) a record that belongs to any of ``counties``."""
    allowed = writable_counties(actor) if write else readable_counties(actor, planners=planners)
    if allowed is None:
        return True
    return any(c in allowed for c in counties if c)


def require_county(actor: Actor, county_code: str | None, *, write: bool = True) -> None:
    """Refuse (403) an actor outside the county: managers work in their own counties; reviewers read
    everywhere and write nowhere; administrators do both."""
    require_counties(actor, (county_code,), write=write)


def require_counties(actor: Actor, counties: Iterable[str | None], *, write: bool = True, what: str = "records",
                     planners: bool = False) -> None:
    """Refuse (403) unless ``actor`` may read (or write) a record belonging to one of ``counties``."""
    counties = tuple(counties)
    if may_county(actor, counties, write=write, planners=planners):
        return
    named = ", ".join(_name(c) for c in dict.fromkeys(counties)) or "no county"
    if write and not actor.can("manager"):
        raise Forbidden(f"{actor.name} may not change {what} of {named}: only the county's managers and "
                        "administrators change them")
    raise Forbidden(f"{actor.name} may not {'change' if write else 'read'} {what} of {named}: "
                    "managers work only in their own counties")


def may_see_personal(actor: Actor, counties: Iterable[str | None], *, visitor: bool = False) -> bool:
    """Whether ``actor`` sees a record's personal fields: administrators, the county's managers and (except
    for what visitors gave) reviewers; planners never."""
    if actor.can("admin"):
        return True
    if actor.can("manager") and any(c in actor.counties for c in counties if c):
        return True
    return actor.can("reviewer") and not visitor


def hide_personal(values: dict | None, actor: Actor, counties: Iterable[str | None]) -> dict | None:
    """``values`` with the personal fields ``actor`` may not see replaced by a mark (None stays None)."""
    if not values:
        return values
    counties = tuple(counties)
    out = dict(values)
    for key in PERSONAL_FIELDS & set(out):
        if out[key] is not None and not may_see_personal(actor, counties, visitor=key in VISITOR_FIELDS):
            out[key] = "(hidden)"
    return out
