"""The one time spelling: ISO 8601 UTC to the second, from datetimes and Unix times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from btcwatch.timefmt import ISO_UTC, iso_utc, now_iso, parse_iso_utc, utc_now

VASTAAMO_EMAILS = 1603526400  # 2020-10-24T08:00:00Z


def test_iso_utc_renders_a_unix_time() -> None:
    assert iso_utc(VASTAAMO_EMAILS) == "2020-10-24T08:00:00Z"


def test_iso_utc_converts_any_zone_to_utc() -> None:
    helsinki = timezone(timedelta(hours=3))
    assert iso_utc(datetime(2020, 10, 24, 11, 0, 30, tzinfo=helsinki)) == "2020-10-24T08:00:30Z"


def test_iso_utc_drops_fractions_of_a_second() -> None:
    assert iso_utc(datetime(2020, 10, 24, 8, 0, 0, 999_999, tzinfo=UTC)) == "2020-10-24T08:00:00Z"


@pytest.mark.parametrize("unknown", [0, -1])
def test_an_unknown_unix_time_renders_empty(unknown: int) -> None:
    assert iso_utc(unknown) == ""


def test_parse_is_the_inverse_of_render() -> None:
    moment = parse_iso_utc("2020-10-24T08:00:00Z")
    assert moment == datetime(2020, 10, 24, 8, tzinfo=UTC)
    assert iso_utc(moment) == "2020-10-24T08:00:00Z"
    assert int(moment.timestamp()) == VASTAAMO_EMAILS


@pytest.mark.parametrize("text", ["2020-10-24T08:00:00", "2020-10-24 08:00:00Z", "2020-10-24"])
def test_parse_refuses_other_spellings(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_utc(text)


def test_the_clock_is_aware_utc_and_stored_rows_use_the_same_spelling() -> None:
    before = utc_now()
    stamp = now_iso()
    after = utc_now()
    assert before.tzinfo is UTC
    assert datetime.strptime(stamp, ISO_UTC).replace(tzinfo=UTC) == parse_iso_utc(stamp)
    assert before.replace(microsecond=0) <= parse_iso_utc(stamp) <= after
