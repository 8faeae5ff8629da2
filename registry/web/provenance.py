"""Provenance lines for staff pages: a context processor giving templates ``provenance(record, part)``.

The sentence comes from ``services.provenance.describe`` in the page's language; templates include
``provenance/_lines.html`` with the record as ``record``.
"""

from __future__ import annotations

from registry.services.provenance import describe
from registry.web.language import page_is_english


def provenance_helpers() -> dict:
    """``provenance(record, part)``: where ``part`` of ``record`` comes from, in plain words."""
    english = page_is_english()
    return {"provenance": lambda record, part: describe(record, part, english)}
