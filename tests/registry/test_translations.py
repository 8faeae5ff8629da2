"""The areas' message catalogues, which Flask-Babel merges into one per language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from registry.extensions import DOMAINS

TRANSLATIONS = Path(__file__).resolve().parents[2] / "registry" / "translations"
LANGUAGES = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_message_reads_the_same_in_every_area(language):
    # The domains are merged into one catalogue, so a msgid translated two ways would show one of
    # them everywhere, whichever area loaded last: each msgid must have one translation.
    seen: dict[str, dict[str, str]] = {}
    for domain in DOMAINS:
        with open(TRANSLATIONS / language / "LC_MESSAGES" / f"{domain}.po", "rb") as po:
            for message in read_po(po):
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                if msgid and text:
                    seen.setdefault(msgid, {})[domain] = text
    clashes = {msgid: texts for msgid, texts in seen.items() if len(set(texts.values())) > 1}
    assert clashes == {}
