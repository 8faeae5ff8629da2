"""Redirect targets read from a request (``next``): only a path on this site, checked after decoding."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from registry.services import InvalidInput

MAX_LENGTH = 2000
# In the path, an encoded slash, backslash, percent or control character would change meaning once a
# browser or proxy decodes it (/%2F/evil.example, /%09/evil.example, /%252F…), so none is accepted.
_ENCODED = re.compile(r"%(2f|5c|25|[01][0-9a-f]|7f)", re.IGNORECASE)


def _hidden(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def unsafe_reason(value: str) -> str | None:
    """Why ``value`` is not a same-site path to send a browser to, or None when it is one."""
    if len(value) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if any(_hidden(c) for c in value):
        return "it contains a control character, a space or a line break"
    if "\\" in value:
        return "it contains a backslash, which browsers read as a slash"
    path = re.split(r"[?#]", value, maxsplit=1)[0]
    if _ENCODED.search(path):
        return "its path encodes a slash, a backslash, a percent sign or a control character"
    decoded = unquote(path)
    if any(_hidden(c) for c in decoded):
        return "its path encodes a control character, a space or a line break"
    if not decoded.startswith("/"):
        return "it must start with / (a scheme, a host or a relative path is not accepted)"
    if "//" in decoded:
        return "it holds an empty segment (//), which browsers read as another host"
    if any(segment in (".", "..") for segment in decoded.split("/")):
        return "it holds a . or .. segment"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "it names a scheme or a host"
    return None


def safe_next(value: str | None, field: str = "next", default: str = "/") -> str:
    """The same-site path ``value``, ``default`` when it is empty; InvalidInput (400) naming ``field`` otherwise."""
    if not value:
        return default
    reason = unsafe_reason(value)
    if reason:
        raise InvalidInput(f"{field} must be a path on this site; this one was refused because {reason}",
                           field=field)
    return value
