"""The page's language, picked one way: Chinese by default, English when the request's locale is English.

Translated sentences go through gettext (``_()`` in templates and views, the area's .po file); the codes'
(zh, en) label pairs in ``registry/models/vocab.py`` go through :func:`label`, which templates reach as the
``label`` global.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_babel import get_locale


def page_is_english() -> bool:
    """Whether the page is in English (the locale Babel picked for this request)."""
    return str(get_locale() or "zh_CN").startswith("en")


def label(pair_or_table, key=None) -> str:
    """The label in the page's language: of a (zh, en) pair, or of ``key`` in a table of such pairs.

    A key the table does not hold shows as itself; no pair shows as an empty string.
    """
    pair = pair_or_table.get(key, (key, key)) if key is not None else pair_or_table
    if pair is None:
        return ""
    return pair[1] if page_is_english() else pair[0]


def labels(table: Mapping) -> dict:
    """Every label of a table of (zh, en) pairs, in the page's language, by code."""
    english = page_is_english()
    return {code: pair[1 if english else 0] for code, pair in table.items()}


def init_app(app: Flask) -> None:
    """Templates call ``label(pair)`` or ``label(table, key)``."""
    app.add_template_global(label, "label")
