"""BUSINESS_HOURS: the parser, openings, business-time arithmetic and how a moment is said to the user."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.checks import run_checks

from threads.business_hours import BusinessHoursError, describe_moment, parse_business_hours

MX = ZoneInfo("America/Mexico_City")
HOURS = parse_business_hours("mon-fri 09:00-18:00; sat 10:00-14:00", time_zone="America/Mexico_City")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Mexico City in the week of Monday 2026-12-07 (day 0 = Monday)."""
    return datetime(2026, 12, 7 + day, hour, minute, tzinfo=MX)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [(at(0, 9), True), (at(0, 8, 59), False), (at(4, 17, 59), True), (at(4, 18), False), (at(5, 11), True)],
)
def test_open_within_the_ranges_only(moment, is_open):
    assert HOURS.is_open(moment) is is_open


def test_next_opening_skips_closed_days():
    assert HOURS.next_opening(at(0, 7)) == at(0, 9)  # later today
    assert HOURS.next_opening(at(2, 19)) == at(3, 9)  # tomorrow
    assert HOURS.next_opening(at(5, 15)) == at(7, 9)  # Saturday afternoon → Monday
    assert HOURS.next_opening(at(1, 10)) == at(1, 10)  # open now


def test_business_minutes_do_not_count_closed_hours():
    assert HOURS.add_business_minutes(at(0, 10), 30) == at(0, 10, 30)
    assert HOURS.add_business_minutes(at(0, 17, 45), 30) == at(1, 9, 15)
    assert HOURS.add_business_minutes(at(5, 20), 30) == at(7, 9, 30)


def test_describe_groups_days_in_spanish_and_english():
    assert HOURS.describe("es") == "lun-vie 9:00–18:00; sáb 10:00–14:00"
    assert HOURS.describe("en") == "Mon-Fri 9:00–18:00; Sat 10:00–14:00"


def test_spanish_names_several_ranges_and_24_00_are_read():
    hours = parse_business_hours("lun,mié 09:00-13:00 15:00-19:00; dom 20:00-24:00", time_zone="UTC")
    assert hours.ranges[0] == ((540, 780), (900, 1140)) and hours.ranges[2] == hours.ranges[0]
    assert hours.ranges[6] == ((1200, 1440),) and hours.ranges[1] == ()


@pytest.mark.parametrize("text", ["", "always", "24/7"])
def test_always_open(text):
    hours = parse_business_hours(text, time_zone="UTC")
    assert hours.always_open and hours.is_open(at(6, 3))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mon-fri", "give hours after the days"),
        ("mon-fry 09:00-18:00", "unknown day 'fry'"),
        ("mon 9h-18:00", "'9h' is not a time like 09:00"),
        ("mon 18:00-09:00", "ends before it starts"),
        ("mon 09:00-25:00", "not a time of day"),
        ("mon 09:00", "not a range"),
        ("mon 09:00-12:00 11:00-13:00", "overlap"),
        ("mon 9:0-10:00", "not a time like 09:00"),
    ],
)
def test_bad_values_are_clear_errors(text, problem):
    with pytest.raises(BusinessHoursError, match=problem.replace("(", r"\(")):
        parse_business_hours(text, time_zone="UTC")


def test_an_unknown_time_zone_is_an_error():
    with pytest.raises(BusinessHoursError, match="unknown time zone"):
        parse_business_hours("mon 09:00-10:00", time_zone="Mars/Olympus")


def test_moments_are_said_relative_to_now():
    now = at(2, 19)  # Wednesday evening
    assert describe_moment(at(2, 20), now=now, tz=MX) == "hoy a las 20:00"
    assert describe_moment(at(3, 9), now=now, tz=MX) == "mañana a las 9:00"
    assert describe_moment(at(7, 9), now=now, tz=MX) == "el lunes a las 9:00"
    assert describe_moment(at(10, 13), now=now, tz=MX) == "el 17 de diciembre a las 13:00"
    assert describe_moment(at(3, 9), now=now, tz=MX, language="en") == "tomorrow at 9:00"


@pytest.mark.django_db
def test_the_system_check_reports_bad_business_hours(settings):
    settings.BUSINESS_HOURS = "mon-fri 9am-6pm"

    errors = [m for m in run_checks() if m.id == "threads.E020"]

    assert len(errors) == 1 and "9am-6pm" in errors[0].msg and "mon-fri 09:00-18:00" in errors[0].hint
