"""Qingming from the solar term, against the dates the Purple Mountain Observatory publishes (《中国天文年历》)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from registry.solar_terms import BEIJING, QINGMING_LONGITUDE, apparent_longitude, qingming, term_moment

# The published day of Qingming (April), 2000-2050. The 21st century has Qingming on 4 April in 69 years
# and on 5 April in 31, never on the 6th.
PUBLISHED_DAY = {
    2000: 4, 2001: 5, 2002: 5, 2003: 5, 2004: 4, 2005: 5, 2006: 5, 2007: 5, 2008: 4, 2009: 4,
    2010: 5, 2011: 5, 2012: 4, 2013: 4, 2014: 5, 2015: 5, 2016: 4, 2017: 4, 2018: 5, 2019: 5,
    2020: 4, 2021: 4, 2022: 5, 2023: 5, 2024: 4, 2025: 4, 2026: 5, 2027: 5, 2028: 4, 2029: 4,
    2030: 5, 2031: 5, 2032: 4, 2033: 4, 2034: 5, 2035: 5, 2036: 4, 2037: 4, 2038: 5, 2039: 5,
    2040: 4, 2041: 4, 2042: 4, 2043: 5, 2044: 4, 2045: 4, 2046: 4, 2047: 5, 2048: 4, 2049: 4,
    2050: 4,
}

# Moments published to the minute, Beijing time (Xinhua, quoting the Purple Mountain Observatory's almanac).
PUBLISHED_MOMENT = {
    2010: datetime(2010, 4, 5, 5, 30), 2013: datetime(2013, 4, 4, 23, 2), 2021: datetime(2021, 4, 4, 21, 35),
    2024: datetime(2024, 4, 4, 15, 2), 2025: datetime(2025, 4, 4, 20, 49), 2026: datetime(2026, 4, 5, 2, 40),
}


@pytest.mark.parametrize("year", sorted(PUBLISHED_DAY))
def test_qingming_is_the_published_day(year):
    assert qingming(year) == date(year, 4, PUBLISHED_DAY[year])


@pytest.mark.parametrize("year", sorted(PUBLISHED_MOMENT))
def test_the_moment_of_the_term_is_within_two_minutes_of_the_almanac(year):
    moment = term_moment(year, QINGMING_LONGITUDE, date(year, 4, 5)).astimezone(BEIJING).replace(tzinfo=None)
    assert abs(moment - PUBLISHED_MOMENT[year]) <= timedelta(minutes=2)


# The years 2000-2050 whose term falls within 40 minutes of midnight, Beijing time: 2005 and 2038 just
# after it (so 5 April), 2009 and 2042 just before it (4 April), 2013 an hour before.
@pytest.mark.parametrize("year, day", [(2005, 5), (2009, 4), (2013, 4), (2038, 5), (2042, 4)])
def test_years_near_midnight_keep_the_beijing_day(year, day):
    moment = term_moment(year, QINGMING_LONGITUDE, date(year, 4, 5)).astimezone(BEIJING)
    assert moment.date() == date(year, 4, day)
    if day == 5:
        # The day is decided in Beijing time: in UTC the same moment is still 4 April.
        assert moment.astimezone(UTC).date() == date(year, 4, 4)


def test_the_sun_is_at_fifteen_degrees_at_the_moment():
    moment = term_moment(2030, QINGMING_LONGITUDE, date(2030, 4, 5))
    assert moment.astimezone(BEIJING).date() == qingming(2030)
    # 0.01° is about a quarter of an hour of the Sun's motion: the search lands far closer than that.
    jd = moment.timestamp() / 86400 + 2440587.5 + 70 / 86400
    assert abs(apparent_longitude(jd) - 15.0) < 0.001


def test_years_outside_the_delta_t_range_are_refused():
    with pytest.raises(ValueError, match="outside 1986..2150"):
        qingming(1900)
