"""The provenance lines a public page shows: where a record's position and facts come from, in plain words."""

from __future__ import annotations

from registry.db import Store
from registry.models import Facility, Martyr
from registry.services.corrections.fields import tomb_of
from registry.services.provenance import describe


def provenance_lines(store: Store, target_type: str, target_id: int, english: bool) -> list[str]:
    """A facility's position and facts; a martyr's facts and their (first live) tomb's position."""
    with store.session() as session:
        if target_type == "facility":
            facility = session.get(Facility, target_id)
            if facility is None:
                return []
            return [describe(facility, "position", english), describe(facility, "facts", english)]
        martyr = session.get(Martyr, target_id)
        if martyr is None:
            return []
        tomb = tomb_of(session, martyr)
        lines = [describe(tomb, "position", english)] if tomb is not None else []
        return [*lines, describe(martyr, "facts", english)]
