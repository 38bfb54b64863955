"""When digests go out (local time, across DST changes), quiet hours, and what the user may type."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.alerts import parse_keywords, parse_quiet
from storage import alerts as store
from storage.models import Challenge, Subscription
from tests.alerts.helpers import utc

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")


def deliveries(
    start: datetime, at: time, tz: ZoneInfo, count: int, weekday: int | None = None
) -> list[datetime]:
    out, moment = [], start
    for _ in range(count):
        moment = store.next_delivery(moment, at, tz, weekday)
        out.append(moment)
    return out


def test_daily_nine_oclock_follows_the_wall_clock_into_summer_time() -> None:
    # Europe/Rome moves to CEST on Sunday 29 March 2026.
    got = deliveries(utc(2026, 3, 27, 12), time(9), ROME, 4)
    assert got == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
        utc(2026, 3, 31, 7),
    ]
    assert {moment.astimezone(ROME).time() for moment in got} == {time(9)}


def test_daily_nine_oclock_follows_the_wall_clock_back_to_winter_time() -> None:
    # ... and back to CET on Sunday 25 October 2026.
    got = deliveries(utc(2026, 10, 23, 12), time(9), ROME, 3)
    assert got == [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)]


def test_a_time_the_spring_change_skips_is_moved_forward_not_dropped() -> None:
    # 02:30 does not exist on 29 March in Rome: that day's digest comes at 03:30 CEST.
    got = deliveries(utc(2026, 3, 27, 12), time(2, 30), ROME, 3)
    assert got == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    assert got[1].astimezone(ROME).time() == time(3, 30)


def test_a_time_the_autumn_change_repeats_happens_once() -> None:
    # 02:30 happens twice on 25 October in Rome: one digest, at the first of them.
    got = deliveries(utc(2026, 10, 24, 12), time(2, 30), ROME, 2)
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_weekly_on_monday_across_the_change() -> None:
    got = deliveries(utc(2026, 3, 20), time(8, 15), ROME, 3, weekday=0)
    assert got == [utc(2026, 3, 23, 7, 15), utc(2026, 3, 30, 6, 15), utc(2026, 4, 6, 6, 15)]
    assert {moment.astimezone(ROME).weekday() for moment in got} == {0}


def test_other_time_zones_change_on_their_own_dates() -> None:
    # New York springs forward on 8 March 2026, three weeks before Europe.
    got = deliveries(utc(2026, 3, 6, 20), time(9), NEW_YORK, 3)
    assert got == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_next_delivery_is_strictly_after() -> None:
    nine = utc(2026, 6, 10, 7)  # 09:00 in Rome
    assert store.next_delivery(nine, time(9), ROME) == utc(2026, 6, 11, 7)
    assert store.next_delivery(nine - timedelta(seconds=1), time(9), ROME) == nine


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        ("2026-06-10 23:30", "2026-06-11 07:00"),  # late evening: until the morning
        ("2026-06-11 03:00", "2026-06-11 07:00"),  # after midnight: the same morning
        ("2026-06-11 07:00", "2026-06-11 07:00"),  # quiet hours are over
        ("2026-06-11 12:00", "2026-06-11 12:00"),  # daytime: at once
        ("2026-06-10 21:59", "2026-06-10 21:59"),
    ],
)
def test_quiet_hours_spanning_midnight(local: str, expected_local: str) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=ROME)
    expected = datetime.fromisoformat(expected_local).replace(tzinfo=ROME)
    assert store.outside_quiet_hours(at, time(22), time(7), ROME) == expected


def test_quiet_hours_within_a_day_and_none() -> None:
    at = datetime(2026, 6, 10, 13, 0, tzinfo=ROME)
    assert store.outside_quiet_hours(at, time(12), time(14), ROME) == at.replace(hour=14)
    assert store.outside_quiet_hours(at, None, None, ROME) == at


def test_quiet_hours_ending_in_the_skipped_hour() -> None:
    # Quiet until 02:30 on the night 02:00-03:00 does not exist: alerts come at 03:30 CEST.
    at = datetime(2026, 3, 29, 1, 0, tzinfo=ROME)
    released = store.outside_quiet_hours(at, time(23), time(2, 30), ROME)
    assert released == utc(2026, 3, 29, 1, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9", time(9)), ("09:30", time(9, 30)), ("7.05", time(7, 5)), ("21h", time(21)),
     ("23:59", time(23, 59)), ("24:00", None), ("9:60", None), ("nine", None), ("", None),
     ("9:5", None), ("-1", None)],
)  # fmt: skip
def test_times_of_day(text: str, expected: time | None) -> None:
    assert store.parse_clock(text) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Europe/Rome", "Europe/Rome"), ("europe/stockholm", "Europe/Stockholm"),
     ("America/New York", "America/New_York"), ("UTC", "UTC"), ("Mars/Olympus_Mons", None),
     ("Europe/Milan", None), ("../../etc/passwd", None), ("", None), ("x" * 500, None)],
)  # fmt: skip
def test_time_zones_that_do_not_exist_are_refused(name: str, expected: str | None) -> None:
    assert store.canonical_timezone(name) == expected


def test_keywords_are_bounded() -> None:
    assert parse_keywords("Hydrogen, machine  vision;hydrogen") == (
        ["hydrogen", "machine vision"],
        None,
    )
    assert parse_keywords(" , ;;\n ") == ([], "alerts.keywords_empty")
    assert parse_keywords(",".join(f"k{n}" for n in range(11)))[1] == "alerts.keywords_too_many"
    assert parse_keywords("x" * 41)[1] == "alerts.keyword_too_long"
    assert parse_keywords("a, battery")[1] == "alerts.keyword_too_short"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("22:00-07:00", (time(22), time(7))), ("22 - 7", (time(22), time(7))),
     ("12.30–14.00", (time(12, 30), time(14))), ("22:00", None), ("7-7", None),
     ("25:00-07:00", None), ("night", None)],
)  # fmt: skip
def test_quiet_hours_as_typed(text: str, expected: tuple[time, time] | None) -> None:
    assert parse_quiet(text) == expected


def _sub(**values: object) -> Subscription:
    defaults: dict[str, object] = {"topics": [], "keywords": [], "region": None}
    return Subscription(**{**defaults, **values})


def _challenge(**values: object) -> Challenge:
    defaults: dict[str, object] = {
        "title": "Predictive maintenance for trains",
        "description": "Machine-vision inspection of bogies and hydrogen-powered shunting.",
        "topics": ["mobility", "digital"],
        "region": "Lombardy",
    }
    return Challenge(**{**defaults, **values})


@pytest.mark.parametrize(
    ("sub", "matches"),
    [
        ({"topics": ["mobility"]}, True),
        ({"topics": ["energy", "digital"]}, True),  # any of its topics
        ({"topics": ["health"]}, False),
        ({"keywords": ["hydrogen"]}, True),  # "hydrogen-powered"
        ({"keywords": ["machine vision"]}, True),
        ({"keywords": ["vision"]}, True),
        ({"keywords": ["ision"]}, False),  # keywords match from the start of a word
        ({"topics": ["mobility"], "keywords": ["drone"]}, False),  # topics AND keywords
        ({"topics": ["mobility"], "region": "lombardy"}, True),
        ({"topics": ["mobility"], "region": "Västerbotten"}, False),
        ({}, False),  # asks for nothing: gets nothing
    ],
)
def test_what_a_subscription_matches(sub: dict[str, object], matches: bool) -> None:
    assert store.Interest.of(_sub(**sub)).matches(_challenge()) is matches


def test_a_challenge_open_to_every_region_reaches_regional_subscribers() -> None:
    interest = store.Interest.of(_sub(topics=["mobility"], region="Västerbotten"))
    assert interest.matches(_challenge(region=None))


def test_first_digest_after_downtime_covers_every_missed_day() -> None:
    sub = _sub(frequency="daily", delivery_time="09:00", timezone="Europe/Rome")
    sub.next_run_at = utc(2026, 6, 10, 7)
    # Down from before the 10th's digest until the 13th at noon: the latest missed run is the 13th.
    assert store.latest_due(sub, utc(2026, 6, 13, 10)) == utc(2026, 6, 13, 7)
    assert store.latest_due(sub, utc(2026, 6, 10, 7)) == utc(2026, 6, 10, 7)
