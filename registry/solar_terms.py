"""Solar terms (节气) from the Sun's apparent longitude: the moment of Qingming (清明) each year, in Beijing time.

A solar term begins when the Sun's apparent geocentric ecliptic longitude, referred to the true equinox
of date, reaches a multiple of 15°; Qingming is 15°. The Sun's position is a truncated VSOP87 series for
the Earth's heliocentric longitude and distance (the largest terms, good to a few arcseconds over this
century, so to about a minute of time), turned geocentric, then corrected for the FK5 frame, nutation in
longitude and annual aberration. Times are Terrestrial Time, brought to UTC with a polynomial for ΔT, and
the day is the calendar day in Beijing time (UTC+8), as the Purple Mountain Observatory publishes it.
Pure Python: no Flask, no database.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
QINGMING_LONGITUDE = 15.0
_J2000 = 2451545.0
_UNIX_EPOCH_JD = 2440587.5
# Degrees the Sun's apparent longitude advances a day in early April (a first step for Newton's method).
_DEGREES_A_DAY = 0.9856

# Earth's heliocentric ecliptic longitude and radius vector (VSOP87D), largest terms: (A, B, C) for
# A cos(B + C t), t in Julian millennia from J2000, A in 1e-8 radians (longitude) or 1e-8 au (radius).
_L0 = (
    (175347046, 0, 0), (3341656, 4.6692568, 6283.07585), (34894, 4.6261, 12566.1517),
    (3497, 2.7441, 5753.3849), (3418, 2.8289, 3.5231), (3136, 3.6277, 77713.7715),
    (2676, 4.4181, 7860.4194), (2343, 6.1352, 3930.2097), (1324, 0.7425, 11506.7698),
    (1273, 2.0371, 529.691), (1199, 1.1096, 1577.3435), (990, 5.233, 5884.927), (902, 2.045, 26.298),
    (857, 3.508, 398.149), (780, 1.179, 5223.694), (753, 2.533, 5507.553), (505, 4.583, 18849.228),
    (492, 4.205, 775.523), (357, 2.92, 0.067), (317, 5.849, 11790.629), (284, 1.899, 796.298),
    (271, 0.315, 10977.079), (243, 0.345, 5486.778), (206, 4.806, 2544.314), (205, 1.869, 5573.143),
    (202, 2.458, 6069.777), (156, 0.833, 213.299), (132, 3.411, 2942.463), (126, 1.083, 20.775),
    (115, 0.645, 0.98), (103, 0.636, 4694.003), (102, 0.976, 15720.839), (102, 4.267, 7.114),
    (99, 6.21, 2146.17), (98, 0.68, 155.42), (86, 5.98, 161000.69), (85, 1.3, 6275.96),
    (85, 3.67, 71430.7), (80, 1.81, 17260.15),
)
_L1 = (
    (628331966747, 0, 0), (206059, 2.678235, 6283.07585), (4303, 2.6351, 12566.1517), (425, 1.59, 3.523),
    (119, 5.796, 26.298), (109, 2.966, 1577.344), (93, 2.59, 18849.23), (72, 1.14, 529.69),
    (68, 1.87, 398.15), (67, 4.41, 5507.55), (59, 2.89, 5223.69), (56, 2.17, 155.42), (45, 0.4, 796.3),
    (36, 0.47, 775.52),
)
_L2 = ((52919, 0, 0), (8720, 1.0721, 6283.0758), (309, 0.867, 12566.152), (27, 5.05, 0.52))
_L3 = ((289, 5.844, 6283.076), (35, 0, 0), (17, 5.49, 12566.15))
_L4 = ((114, 3.142, 0),)
_R0 = (
    (100013989, 0, 0), (1670700, 3.0984635, 6283.07585), (13956, 3.05525, 12566.1517),
    (3084, 5.1985, 77713.7715), (1628, 1.1739, 5753.3849), (1576, 2.8469, 7860.4194),
    (925, 5.453, 11506.77), (542, 4.564, 3930.21),
)
_R1 = ((103019, 1.10749, 6283.07585), (1721, 1.0644, 12566.1517), (702, 3.142, 0))
_R2 = ((4359, 5.7846, 6283.0758),)


def _series(terms, t: float) -> float:
    return sum(a * math.cos(b + c * t) for a, b, c in terms)


def _polynomial(series, t: float) -> float:
    return sum(_series(terms, t) * t ** power for power, terms in enumerate(series))


def delta_t_seconds(year: float) -> float:
    """TT − UT in seconds (Espenak and Meeus's polynomials), for years 1986 to 2150.

    >>> round(delta_t_seconds(2010))  # observed: 66.1
    67
    """
    if not 1986 <= year <= 2150:
        raise ValueError(f"year {year} is outside 1986..2150, where the ΔT polynomials hold")
    t = year - 2000
    if year < 2005:
        return 63.86 + 0.3345 * t - 0.060374 * t ** 2 + 0.0017275 * t ** 3 + 0.000651814 * t ** 4 \
            + 0.00002373599 * t ** 5
    if year < 2050:
        return 62.92 + 0.32217 * t + 0.005589 * t ** 2
    return -20 + 32 * ((year - 1820) / 100) ** 2 - 0.5628 * (2150 - year)


def apparent_longitude(jde: float) -> float:
    """The Sun's apparent geocentric ecliptic longitude in degrees (0..360) at Julian Ephemeris Day ``jde``.

    >>> round(apparent_longitude(2448908.5), 4)  # 1992-10-13 0h TD; Meeus's example 25.b: 199°54′21.818″
    199.9061
    """
    t = (jde - _J2000) / 365250.0
    heliocentric = _polynomial((_L0, _L1, _L2, _L3, _L4), t) / 1e8
    radius = _polynomial((_R0, _R1, _R2), t) / 1e8
    longitude = math.degrees(heliocentric) + 180.0 - 0.09033 / 3600  # geocentric, FK5
    centuries = t * 10
    node = math.radians(125.04452 - 1934.136261 * centuries)
    sun = math.radians(280.4665 + 36000.7698 * centuries)
    moon = math.radians(218.3165 + 481267.8813 * centuries)
    nutation = (-17.20 * math.sin(node) - 1.32 * math.sin(2 * sun) - 0.23 * math.sin(2 * moon)
                + 0.21 * math.sin(2 * node)) / 3600
    aberration = -20.4898 / 3600 / radius
    return (longitude + nutation + aberration) % 360.0


def _julian_day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + _UNIX_EPOCH_JD


def term_moment(year: int, longitude: float, near: date) -> datetime:
    """The UTC moment, in ``year``, when the Sun's apparent longitude reaches ``longitude`` degrees.

    ``near`` is a day close to the term (the search starts there and converges in a few steps).

    >>> term_moment(2024, 15.0, date(2024, 4, 5)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    '2024-04-04 15:02'
    """
    start = datetime(near.year, near.month, near.day, tzinfo=UTC)
    jd = _julian_day(start)
    delta = delta_t_seconds(year + (near.timetuple().tm_yday - 0.5) / 365.25) / 86400.0
    for _ in range(20):
        # The shortest signed angle from where the Sun is to where it should be.
        gap = (longitude - apparent_longitude(jd + delta) + 180.0) % 360.0 - 180.0
        jd += gap / _DEGREES_A_DAY
        if abs(gap) < 1e-8:
            break
    return datetime.fromtimestamp((jd - _UNIX_EPOCH_JD) * 86400.0, tz=UTC)


def qingming(year: int) -> date:
    """The day of Qingming (清明) in ``year``: the Beijing-time date when the Sun reaches longitude 15°.

    >>> qingming(2026), qingming(2038)
    (datetime.date(2026, 4, 5), datetime.date(2038, 4, 5))
    """
    return term_moment(year, QINGMING_LONGITUDE, date(year, 4, 5)).astimezone(BEIJING).date()
