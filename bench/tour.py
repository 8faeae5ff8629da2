"""Visit routes: 2-opt ordering against the naive exhaustive search at 10 stops, and the time for 200 stops.

The exhaustive search below is the baseline (and the tests' reference for the best tour); it is not in the
product. Both measure the same straight lines in the same metric CRS as ``geodata.tour``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import shapely

from bench.harness import Row, Table, median
from geodata.crs import to_metric
from geodata.tour import order_visits

# The demo region's spread: stops within about 60 km of each other, as a county's round would be.
WEST, SOUTH, SPAN = 116.2, 24.8, 0.6
CHUNK = 200_000


def random_stops(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in zip(rng.uniform(WEST, WEST + SPAN, n),
                                                 rng.uniform(SOUTH, SOUTH + SPAN, n), strict=True)]


def exhaustive(stops, start=None, return_to_start: bool = False) -> tuple[tuple[int, ...], float]:
    """The shortest order by trying every permutation (n! of them): (order, metres)."""
    n = len(stops)
    if n == 0:
        return (), 0.0
    points = list(stops) + ([tuple(start)] if start is not None else [])
    xy = shapely.get_coordinates(to_metric(shapely.multipoints(points))[0])
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    best_order, best = None, np.inf
    permutations = itertools.permutations(range(n))
    while True:
        chunk = np.fromiter(itertools.chain.from_iterable(itertools.islice(permutations, CHUNK)), dtype=np.intp)
        if chunk.size == 0:
            break
        perms = chunk.reshape(-1, n)
        lengths = dist[perms[:, :-1], perms[:, 1:]].sum(axis=1)
        if start is not None:
            lengths += dist[n, perms[:, 0]]
            if return_to_start:
                lengths += dist[perms[:, -1], n]
        k = int(lengths.argmin())
        if lengths[k] < best:
            best, best_order = float(lengths[k]), tuple(int(v) for v in perms[k])
    return best_order, best


def run(table: Table, quick: bool) -> None:
    """Append the visit-route rows: the 10-stop ratio (target: 2-opt at least 5x faster) and 200 stops."""
    rng = np.random.default_rng(14)
    cases = [random_stops(rng, 10) for _ in range(3 if quick else 5)]
    ours, base, worst = [], [], 0.0
    for stops in cases:
        t0 = time.perf_counter()
        _order, best = exhaustive(stops)
        t1 = time.perf_counter()
        tour = order_visits(stops)
        t2 = time.perf_counter()
        base.append((t1 - t0) * 1000)
        ours.append((t2 - t1) * 1000)
        worst = max(worst, tour.total_m / best - 1)
    table.add(Row("visit order, 2-opt vs exhaustive", "numpy", "10", median(ours), median(base),
                  target="<= 0.2",
                  note=f"{median(base) / median(ours):,.0f}x faster; {len(cases)} random sets of 10 stops, "
                       f"worst {worst:.1%} longer than the best"))
    big = random_stops(rng, 200)
    times = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        tour = order_visits(big)
        times.append((time.perf_counter() - t0) * 1000)
    nn_only = order_visits(big, improve=False).total_m
    table.add(Row("visit order, 200 stops", "numpy", "200", median(times), median(base),
                  note=f"vs the 10-stop exhaustive search; {tour.total_m / 1000:,.1f} km, "
                       f"nearest neighbour alone {nn_only / 1000:,.1f} km"))


if __name__ == "__main__":
    import sys

    results = Table()
    print(Table.header(), flush=True)
    run(results, quick="--quick" in sys.argv)
