"""Business hours: when staff answer, parsed from `BUSINESS_HOURS` and read in `TIME_ZONE`.

Pure code (no database, no clock of its own): the handoff tells the user when a person will
answer from it, and counts its timeout in business time. The format is short enough for an
environment variable, e.g. ``mon-fri 09:00-18:00; sat 10:00-14:00``: segments separated by
``;``, each a day or day range (English or Spanish abbreviations, several joined by ``,``)
and one or more ``HH:MM-HH:MM`` ranges. Empty (or ``always``) means staff answer at any time.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("lun", "mar", "mie", "jue", "vie", "sab", "dom"))},
    "mié": 2,
    "sáb": 5,
}
SPANISH_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
SPANISH_SHORT = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")
ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ENGLISH_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SPANISH_MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
ALWAYS = ("", "always", "24/7")
MINUTES_PER_DAY = 24 * 60


class BusinessHoursError(ValueError):
    """Raised when BUSINESS_HOURS cannot be read; the message says which part and what was expected."""


@dataclass(frozen=True)
class BusinessHours:
    """Opening ranges per weekday (0 = Monday), in minutes since midnight, in the time zone `tz`."""

    ranges: tuple[tuple[tuple[int, int], ...], ...]
    tz: ZoneInfo
    always_open: bool = False

    def is_open(self, at: datetime) -> bool:
        """Tell whether staff are at work at `at` (an aware datetime)."""
        return self.next_opening(at) == at

    def next_opening(self, after: datetime) -> datetime:
        """Return the first moment at or after `after` when staff are at work (`after` itself when open)."""
        for start, _end in self._intervals_from(after):
            return max(start, after)
        raise AssertionError("business hours without any opening")  # parse() refuses those

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """Return the moment `minutes` of business time after `start` (closed hours do not count)."""
        left = timedelta(minutes=minutes)
        for open_at, close_at in self._intervals_from(start):
            open_at = max(open_at, start)
            if close_at - open_at >= left:
                return open_at + left
            left -= close_at - open_at
        raise AssertionError("unreachable: intervals never run out")

    def describe(self, language: str = "es") -> str:
        """Summarise the hours for a user, e.g. "lun-vie 9:00-18:00" (with an en dash between the hours)."""
        if self.always_open:
            return "todos los días, a toda hora" if language == "es" else "every day, at any time"
        names = SPANISH_SHORT if language == "es" else ENGLISH_SHORT
        groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
        for day, day_ranges in enumerate(self.ranges):
            if not day_ranges:
                continue
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == day_ranges:
                groups[-1] = (groups[-1][0], day, day_ranges)
            else:
                groups.append((day, day, day_ranges))
        parts = []
        for first, last, day_ranges in groups:
            days = names[first] if first == last else f"{names[first]}-{names[last]}"
            hours = ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in day_ranges)
            parts.append(f"{days} {hours}")
        return "; ".join(parts)

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield the open intervals (aware, in `tz`) that end after `moment`, in order, for ever."""
        local = moment.astimezone(self.tz)
        day = local.date()
        while True:
            for start, end in self.ranges[day.weekday()]:
                open_at, close_at = self._at(day, start), self._at(day, end)
                if close_at > moment:
                    yield open_at, close_at
            day += timedelta(days=1)

    def _at(self, day: date, minutes: int) -> datetime:
        extra, minutes = divmod(minutes, MINUTES_PER_DAY)
        naive = datetime(day.year, day.month, day.day) + timedelta(days=extra, minutes=minutes)
        return naive.replace(tzinfo=self.tz)


def parse_business_hours(text: str, *, time_zone: str) -> BusinessHours:
    """Read a BUSINESS_HOURS value; raise BusinessHoursError naming the part that is wrong."""
    try:
        tz = ZoneInfo(time_zone)
    except (ValueError, KeyError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise BusinessHoursError(f"unknown time zone {time_zone!r}") from exc
    if text.strip().lower() in ALWAYS:
        return BusinessHours(ranges=tuple(((0, MINUTES_PER_DAY),) for _ in range(7)), tz=tz, always_open=True)
    per_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for segment in text.split(";"):
        segment = segment.strip()
        if not segment:
            continue
        days_part, _, hours_part = segment.partition(" ")
        days = _parse_days(days_part, segment)
        hours = [_parse_range(item, segment) for item in hours_part.replace(",", " ").split()]
        if not hours:
            raise BusinessHoursError(f"{segment!r}: give hours after the days, e.g. 'mon-fri 09:00-18:00'")
        for day in days:
            per_day[day].extend(hours)
    for day, day_ranges in enumerate(per_day):
        day_ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(day_ranges):
            if start < end:
                raise BusinessHoursError(f"the hours of {ENGLISH_DAYS[day]} overlap")
    if not any(per_day):
        raise BusinessHoursError("no opening hours found, e.g. 'mon-fri 09:00-18:00' (or 'always')")
    return BusinessHours(ranges=tuple(tuple(r) for r in per_day), tz=tz)


def describe_moment(when: datetime, *, now: datetime, tz: ZoneInfo, language: str = "es") -> str:
    """Say when `when` is, from `now`: "hoy a las 9:00", "mañana a las 9:00", "el lunes a las 9:00"."""
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    clock = f"{local.hour}:{local.minute:02d}"
    days_ahead = (local.date() - today).days
    if language != "es":
        if days_ahead <= 0:
            return f"today at {clock}"
        if days_ahead == 1:
            return f"tomorrow at {clock}"
        if days_ahead < 7:
            return f"on {ENGLISH_DAYS[local.weekday()]} at {clock}"
        return f"on {local:%B} {local.day} at {clock}"
    at = "a la" if local.hour == 1 else "a las"
    if days_ahead <= 0:
        return f"hoy {at} {clock}"
    if days_ahead == 1:
        return f"mañana {at} {clock}"
    if days_ahead < 7:
        return f"el {SPANISH_DAYS[local.weekday()]} {at} {clock}"
    return f"el {local.day} de {SPANISH_MONTHS[local.month - 1]} {at} {clock}"


def _parse_days(text: str, segment: str) -> list[int]:
    days: list[int] = []
    for item in text.lower().split(","):
        first, dash, last = item.strip().partition("-")
        start, end = _day(first, segment), _day(last, segment) if dash else None
        if end is None:
            days.append(start)
        else:
            days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return days


def _day(name: str, segment: str) -> int:
    key = name.strip()[:3] if name.strip()[:3] in DAY_NAMES else name.strip()
    if key not in DAY_NAMES:
        raise BusinessHoursError(f"{segment!r}: unknown day {name!r} (use mon, tue, wed, thu, fri, sat, sun)")
    return DAY_NAMES[key]


def _parse_range(text: str, segment: str) -> tuple[int, int]:
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise BusinessHoursError(f"{segment!r}: {text!r} is not a range like 09:00-18:00")
    start, end = _minutes(start_text, segment), _minutes(end_text, segment)
    if end <= start:
        raise BusinessHoursError(f"{segment!r}: {text!r} ends before it starts (ranges cannot cross midnight)")
    return start, end


def _minutes(text: str, segment: str) -> int:
    hours, colon, minutes = text.strip().partition(":")
    if not (hours.isdigit() and (not colon or (minutes.isdigit() and len(minutes) == 2))):
        raise BusinessHoursError(f"{segment!r}: {text!r} is not a time like 09:00")
    value = int(hours) * 60 + (int(minutes) if colon else 0)
    if int(hours) > 24 or int(minutes or 0) > 59 or value > MINUTES_PER_DAY:
        raise BusinessHoursError(f"{segment!r}: {text!r} is not a time of day (00:00 to 24:00)")
    return value


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"
