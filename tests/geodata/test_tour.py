"""The order of visits: near the best tour on small cases, a permutation, better than nearest neighbour alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.tour import exhaustive, random_stops
from geodata.tour import order_visits, tour_length


def _cases():
    """Seeded random small cases: (stops, start, return_to_start), 2 to 9 stops, with and without a start."""
    rng = np.random.default_rng(2026)
    cases = []
    for n in range(2, 10):
        for _ in range(12 if n < 9 else 4):
            stops = random_stops(rng, n)
            start = random_stops(rng, 1)[0]
            cases += [(stops, None, False), (stops, start, False), (stops, start, True)]
    return cases


def test_small_tours_are_within_five_percent_of_the_best():
    worst = []
    for stops, start, back in _cases():
        tour = order_visits(stops, start, return_to_start=back)
        assert sorted(tour.order.tolist()) == list(range(len(stops)))
        _order, best = exhaustive(stops, start, back)
        assert tour.total_m <= best * 1.05 + 1e-6, (stops, start, back, tour.total_m, best)
        # The figures it reports are the length of the order it gives.
        assert tour.total_m == pytest.approx(tour_length(stops, tour.order, start, return_to_start=back))
        worst.append(tour.total_m / best - 1 if best else 0.0)
    assert len(worst) > 250


def test_two_hundred_stops_are_a_permutation_and_shorter_than_nearest_neighbour():
    stops = random_stops(np.random.default_rng(200), 200)
    tour = order_visits(stops)
    nearest = order_visits(stops, improve=False)
    assert sorted(tour.order.tolist()) == list(range(200))
    assert tour.total_m < nearest.total_m * 0.97
    assert tour.total_m == pytest.approx(tour_length(stops, tour.order))
    assert tour.epsg == 4498


def test_no_stop_one_stop_two_stops():
    empty = order_visits([])
    assert empty.order.tolist() == [] and empty.total_m == 0.0
    one = order_visits([(117.0, 25.0)])
    assert one.order.tolist() == [0] and one.legs_m.tolist() == [0.0]
    two = order_visits([(117.0, 25.0), (117.01, 25.0)])
    assert sorted(two.order.tolist()) == [0, 1] and two.total_m == pytest.approx(1010, abs=1)
    # With a start, the nearer of two stops comes first and the first leg is the walk from the start.
    started = order_visits([(117.0, 25.0), (117.01, 25.0)], start=(117.02, 25.0))
    assert started.order.tolist() == [1, 0]
    assert started.legs_m[0] == pytest.approx(1010, abs=1)
    assert order_visits([], start=(117.0, 25.0)).total_m == 0.0


def test_return_to_start_counts_and_shortens_the_way_back():
    stops = [(117.0, 25.0), (117.02, 25.0), (117.0, 25.02), (117.02, 25.02)]
    start = (117.01, 24.99)
    there = order_visits(stops, start)
    loop = order_visits(stops, start, return_to_start=True)
    assert there.return_m == 0.0 and loop.return_m > 0
    assert loop.total_m == pytest.approx(exhaustive(stops, start, True)[1], rel=0.05)
    # An open day ends far from the start; a round trip comes back next to it.
    last = stops[loop.order[-1]]
    assert math.dist(last, start) < math.dist(stops[there.order[-1]], start) + 1e-9


def test_duplicate_points_are_visited_one_after_the_other():
    stops = [(117.0, 25.0), (117.05, 25.0), (117.0, 25.0), (117.05, 25.0), (117.0, 25.0)]
    tour = order_visits(stops, start=(116.99, 25.0))
    assert sorted(tour.order.tolist()) == [0, 1, 2, 3, 4]
    assert [stops[i] for i in tour.order] == [(117.0, 25.0)] * 3 + [(117.05, 25.0)] * 2
    assert sorted(tour.legs_m.round(3).tolist()).count(0.0) == 3


@pytest.mark.parametrize(("stops", "start", "message"), [
    ([(117.0, 25.0), (float("nan"), 25.0)], None, "stop 'B': longitude nan and latitude 25.0 must be finite"),
    ([(117.0, 25.0), (190.0, 25.0)], None, "stop 'B': longitude 190.0 is outside -180..180"),
    ([(117.0, 95.0), (117.0, 25.0)], None, "stop 'A': latitude 95.0 is outside -90..90"),
    ([(117.0, 25.0), ("east", 25.0)], None, "stop 'B': ('east', 25.0) is not a pair of numbers"),
    ([(117.0, 25.0), (117.0,)], None, "stop 'B': (117.0,) is not a (longitude, latitude) pair"),
    ([(117.0, 25.0)], (117.0, float("inf")), "start: longitude 117.0 and latitude inf must be finite"),
    ([(117.0, 25.0)], (25.0, 117.0), "start: latitude 117.0 is outside -90..90"),
])
def test_bad_coordinates_are_refused_naming_the_stop(stops, start, message):
    with pytest.raises(ValueError) as caught:
        order_visits(stops, start, names=["A", "B"][:len(stops)])
    assert message in str(caught.value)


def test_unnamed_stops_are_numbered_from_one_and_return_needs_a_start():
    with pytest.raises(ValueError, match=r"stop 2: latitude -91.0"):
        order_visits([(117.0, 25.0), (117.0, -91.0)])
    with pytest.raises(ValueError, match="return_to_start: there is no start point"):
        order_visits([(117.0, 25.0)], return_to_start=True)
