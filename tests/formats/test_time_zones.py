"""Time zones as views and exports use them (issue 17, finding 4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from formats.time_zones import (
    UnknownTimeZone,
    as_sent,
    clock,
    day_span,
    iso_local,
    local_date,
    sent_clock,
    time_zone,
    utc_dates_of,
    zone_names,
)

NEW_YORK = time_zone("America/New_York")


def test_a_2330_new_york_message_is_on_its_new_york_day_not_the_next_utc_day() -> None:
    sent = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)  # 23:30 in New York on the 22nd
    assert local_date(sent, time_zone("UTC")) == date(2026, 11, 23)
    assert local_date(sent, NEW_YORK) == date(2026, 11, 22)
    assert clock(sent, NEW_YORK) == "2026-11-22 23:30:00 EST"
    assert iso_local(sent, NEW_YORK) == "2026-11-22T23:30:00.000000-05:00"
    assert iso_local(sent, time_zone("UTC")) == "2026-11-23T04:30:00.000000Z"


@pytest.mark.parametrize(
    ("day", "hours", "start"),
    [
        (date(2026, 3, 8), 23, datetime(2026, 3, 8, 5, tzinfo=UTC)),  # clocks go forward at 02:00 EST
        (date(2026, 11, 1), 25, datetime(2026, 11, 1, 4, tzinfo=UTC)),  # clocks go back at 02:00 EDT
        (date(2026, 3, 9), 24, datetime(2026, 3, 9, 4, tzinfo=UTC)),
    ],
)
def test_new_york_days_are_cut_at_local_midnight_across_daylight_saving_changes(
    day: date, hours: int, start: datetime
) -> None:
    first, after = day_span(day, NEW_YORK)
    assert first == start
    assert after - first == timedelta(hours=hours)
    assert local_date(first, NEW_YORK) == day
    assert local_date(after - timedelta(microseconds=1), NEW_YORK) == day
    assert local_date(after, NEW_YORK) == day + timedelta(days=1)
    assert utc_dates_of(day, NEW_YORK) == {day, day + timedelta(days=1)}


def test_the_repeated_hour_of_the_fall_change_shows_both_offsets() -> None:
    first_130 = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second_130 = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert clock(first_130, NEW_YORK) == "2026-11-01 01:30:00 EDT"
    assert clock(second_130, NEW_YORK) == "2026-11-01 01:30:00 EST"
    assert iso_local(first_130, NEW_YORK).endswith("-04:00")
    assert iso_local(second_130, NEW_YORK).endswith("-05:00")


def test_the_senders_offset_is_said_when_it_differs_from_the_zone_shown() -> None:
    sent = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert as_sent(sent, time_zone("UTC"), "+09:00") == " (+09:00 as sent)"
    assert as_sent(sent, time_zone("Asia/Tokyo"), "+09:00") == ""
    assert as_sent(sent, time_zone("UTC"), None) == ""
    assert as_sent(sent, NEW_YORK, None) == " (+00:00 as sent)"
    assert sent_clock(sent, "+09:00") == "2026-11-22T09:00:00.000000+09:00"
    assert sent_clock(sent, None) == "2026-11-22T00:00:00.000000Z"


@pytest.mark.parametrize(
    "name", ["America/New_Yrok", "america/new_york", "EST5EDT/Nowhere", "", "../../etc/passwd", "x" * 500]
)
def test_an_unknown_zone_is_refused_with_close_names(name: str) -> None:
    with pytest.raises(UnknownTimeZone, match="unknown time zone") as refused:
        time_zone(name)
    assert len(str(refused.value)) < 300
    if name.lower() == "america/new_york" or name == "America/New_Yrok":
        assert "America/New_York" in str(refused.value)


def test_every_listed_zone_loads() -> None:
    names = zone_names()
    assert {"UTC", "America/New_York", "Asia/Tokyo", "Europe/London"} <= set(names)
    assert all(time_zone(name).key == name for name in names[:: max(1, len(names) // 40)])


def test_the_ends_of_the_range_do_not_overflow() -> None:
    assert iso_local(datetime.max.replace(tzinfo=UTC), time_zone("Pacific/Kiritimati")).startswith("9999-12-31T23:59")
    assert day_span(date(9999, 12, 31), time_zone("UTC"))[1] == datetime.max.replace(tzinfo=UTC)
