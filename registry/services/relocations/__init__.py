"""Relocations (迁葬): the area's use cases, one module a concern.

- ``rules``: fields, steps in order, counties and who may read or write, the journey line;
- ``plots``: the tomb at the destination plot (one active tomb a plot);
- ``graves``: original graves a reburial leaves; retiring and restoring a tomb;
- ``records``: create, edit, cancel; giving old records their tombs;
- ``scans``: scans of the papers;
- ``reading``: one relocation, lists, the journeys map, the public grave story.

Beside them, not re-exported here: ``ledger`` (the ledger import) and ``reconciliation`` (the county
reconciliation), which build on these.
"""

from registry.services.relocations.graves import (
    ORIGIN_STATES,
    grave_county,
    origin_graves,
    origin_graves_of_martyrs,
    release_tomb,
    restore_tomb,
    retire_origin_graves,
    retire_tomb,
    retirement_note,
)
from registry.services.relocations.plots import (
    PLOT_INDEX,
    dest_point,
    follow_tomb,
    plot_filter,
    plot_guard,
    plot_label,
    plot_taken,
    settle_tomb,
)
from registry.services.relocations.reading import (
    RelocationView,
    destinations,
    file_lacks,
    filter_choices,
    get_relocation,
    journeys_geojson,
    list_relocations,
    missing_consent_or_approval,
    parse_filters,
    relocation_story,
)
from registry.services.relocations.records import (
    TombBackfill,
    cancel_relocation,
    create_relocation,
    link_missing_tombs,
    update_relocation,
)
from registry.services.relocations.rules import (
    DEST_FIELDS,
    DESTINATION_CATEGORIES,
    EDITABLE,
    POINT_METHODS,
    check_fields,
    check_steps,
    county_aliases,
    county_seats_wgs84,
    ends_at_tomb,
    facility_county,
    journey_line,
    relocation_counties,
    require_read,
    require_write,
    scope_clause,
    stage_of,
)
from registry.services.relocations.scans import MAX_SCAN_BYTES, SCAN_TYPES, attach_scan, get_attachment

__all__ = [
    "DESTINATION_CATEGORIES",
    "DEST_FIELDS",
    "EDITABLE",
    "MAX_SCAN_BYTES",
    "ORIGIN_STATES",
    "PLOT_INDEX",
    "POINT_METHODS",
    "RelocationView",
    "SCAN_TYPES",
    "TombBackfill",
    "attach_scan",
    "cancel_relocation",
    "check_fields",
    "check_steps",
    "county_aliases",
    "county_seats_wgs84",
    "create_relocation",
    "dest_point",
    "destinations",
    "ends_at_tomb",
    "facility_county",
    "file_lacks",
    "filter_choices",
    "follow_tomb",
    "get_attachment",
    "get_relocation",
    "grave_county",
    "journey_line",
    "journeys_geojson",
    "link_missing_tombs",
    "list_relocations",
    "missing_consent_or_approval",
    "origin_graves",
    "origin_graves_of_martyrs",
    "parse_filters",
    "plot_filter",
    "plot_guard",
    "plot_label",
    "plot_taken",
    "release_tomb",
    "relocation_counties",
    "relocation_story",
    "require_read",
    "require_write",
    "restore_tomb",
    "retire_origin_graves",
    "retire_tomb",
    "retirement_note",
    "scope_clause",
    "settle_tomb",
    "stage_of",
    "update_relocation",
]
