"""iCalendar (RFC 5545) writing: escaped text, lines folded at 75 octets, CRLF endings, all-day events.

Pure Python: the feeds' views hand it plain values, and nothing here knows Flask or the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

LINE_OCTETS = 75


def escape_text(value: str) -> str:
    r"""A TEXT value: backslash, semicolon and comma escaped, every line break written as ``\n``.

    >>> escape_text('a,b;c\\d\r\ne')
    'a\\,b\\;c\\\\d\\ne'
    """
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded so no physical line exceeds 75 octets (UTF-8), never splitting a character.

    >>> [len(part.encode()) for part in fold("SUMMARY:" + "清明" * 30).split("\\r\\n")]
    [74, 73, 43]
    """
    parts, current, size = [], [], 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > LINE_OCTETS:
            parts.append("".join(current))
            current, size = [" "], 1  # a continuation line starts with one space, which counts
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    """An all-day event; ``alarm_hours`` before its day (at midnight) a display alarm, when given."""

    uid: str
    day: date
    summary: str
    description: str = ""
    url: str = ""
    categories: tuple[str, ...] = ()
    alarm_hours: int | None = None


@dataclass
class Calendar:
    """A VCALENDAR of all-day events, written with ``to_ical()`` as bytes."""

    name: str
    prodid: str = "-//memorial-registry//calendar//ZH"
    events: list[Event] = field(default_factory=list)
    refresh_hours: int = 12

    def lines(self, now: datetime) -> Iterable[str]:
        yield "BEGIN:VCALENDAR"
        yield "VERSION:2.0"
        yield f"PRODID:{self.prodid}"
        yield "CALSCALE:GREGORIAN"
        yield "METHOD:PUBLISH"
        yield f"NAME:{escape_text(self.name)}"
        yield f"X-WR-CALNAME:{escape_text(self.name)}"
        yield f"REFRESH-INTERVAL;VALUE=DURATION:PT{self.refresh_hours}H"
        yield f"X-PUBLISHED-TTL:PT{self.refresh_hours}H"
        stamp = _stamp(now)
        for event in self.events:
            yield "BEGIN:VEVENT"
            yield f"UID:{escape_text(event.uid)}"
            yield f"DTSTAMP:{stamp}"
            yield f"DTSTART;VALUE=DATE:{event.day.strftime('%Y%m%d')}"
            yield f"DTEND;VALUE=DATE:{(event.day + timedelta(days=1)).strftime('%Y%m%d')}"
            yield f"SUMMARY:{escape_text(event.summary)}"
            if event.description:
                yield f"DESCRIPTION:{escape_text(event.description)}"
            if event.url:
                yield f"URL;VALUE=URI:{event.url}"
            if event.categories:
                yield "CATEGORIES:" + ",".join(escape_text(c) for c in event.categories)
            yield "TRANSP:TRANSPARENT"
            if event.alarm_hours is not None:
                yield "BEGIN:VALARM"
                yield "ACTION:DISPLAY"
                yield f"DESCRIPTION:{escape_text(event.summary)}"
                yield f"TRIGGER:-PT{event.alarm_hours}H"
                yield "END:VALARM"
            yield "END:VEVENT"
        yield "END:VCALENDAR"

    def to_ical(self, now: datetime | None = None) -> bytes:
        """The calendar as RFC 5545 bytes: UTF-8, CRLF after every line, long lines folded."""
        now = now or datetime.now(UTC)
        return "".join(fold(line) + "\r\n" for line in self.lines(now)).encode("utf-8")
