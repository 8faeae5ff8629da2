"""Rows of the demo's upkeep tables (inspections, maintenance tasks), built chunk by chunk from the layout,
each chunk from its own random stream."""

from __future__ import annotations

from datetime import UTC

import numpy as np
from shapely.geometry import Point

from geodata.placing import offset
from registry.demo.figures import (
    CHECK_STATES,
    CONDITIONS,
    DEMO_MARK,
    GENERAL_TASK,
    INSPECTIONS_FROM,
    STD_FIELDS,
    STD_LABELS,
    TASK_TITLES,
    TODAY,
    dates,
    days,
)
from registry.demo.layout import Layout
from registry.demo.names import GIVEN, SURNAMES, fictional_name

__all__ = ["inspection_chunk", "task_chunk"]


def inspection_chunk(layout: Layout, chunk: int, a: int, b: int) -> list[dict]:
    """The inspections of facilities ``a`` to ``b`` (0-based): visits at each one's cadence up to its last."""
    upkeep, facilities = layout.upkeep, layout.facilities
    rng = layout.rng("inspections", chunk)
    rows = []
    for f in range(a, b):
        n = int(upkeep.count[f])
        if n == 0:
            continue
        # Visits step back from the last one at this facility's cadence, a few days either way.
        back = np.arange(n)[::-1]
        visit_days = upkeep.last[f] - back * upkeep.step[f] + np.where(back > 0, rng.integers(-5, 6, n), 0)
        visit_days = np.maximum(visit_days, days(INSPECTIONS_FROM))
        minutes = rng.integers(0, 9 * 60 + 30, n)  # 08:00–17:30 Beijing time is 00:00–09:30 UTC
        stamps = (visit_days.astype("datetime64[D]") + minutes.astype("timedelta64[m]")).tolist()
        tier = rng.choice(("station", "county", "city"), size=n, p=(0.65, 0.28, 0.07))
        u = rng.random((n, 6))
        std = np.where(u < 0.7, 0, np.where(u < 0.9, 1, 2))
        cond = rng.choice(4, size=n, p=(0.5, 0.3, 0.15, 0.05))
        if facilities.real[f] >= 0:  # the well-kept real sites: nothing worse than fair, nothing missing
            cond = np.minimum(cond, 1)
            std = np.minimum(std, 1)
        std[-1] = upkeep.std[f]
        cond[-1] = upkeep.condition[f]
        has_fix = rng.random(n) < 0.95
        far = rng.random(n) < 0.03
        dist = np.where(far, rng.uniform(300, 2000, n), np.abs(rng.normal(0, 25, n)))
        angle = rng.uniform(0, 2 * np.pi, n)
        lon, lat = offset(np.full(n, facilities.lon[f]), np.full(n, facilities.lat[f]),
                           dist * np.cos(angle), dist * np.sin(angle))
        who_s, who_g = rng.integers(len(SURNAMES)), rng.integers(len(GIVEN))
        for k in range(n):
            problems = [f"{STD_LABELS[j]}：{'不规范' if std[k, j] == 1 else '缺失'}" for j in range(6)
                        if std[k, j] != 0]
            rows.append({
                "id": int(upkeep.offset[f]) + k + 1, "facility_id": f + 1, "inspector_id": None,
                "inspector_name": fictional_name(int(who_s), int(who_g)),
                "inspected_at": stamps[k].replace(tzinfo=UTC), "tier": str(tier[k]),
                "condition": CONDITIONS[cond[k]],
                **{field: CHECK_STATES[std[k, j]] for j, field in enumerate(STD_FIELDS)},
                "problems": ("；".join(problems) + DEMO_MARK) if problems else None,
                "distance_m": round(float(dist[k]), 1) if has_fix[k] else None,
                "on_site": bool(dist[k] <= 100.0) if has_fix[k] else None,
                "idempotency_key": None, "status": "active", "is_demo": True,
                "geom": Point(float(lon[k]), float(lat[k])) if has_fix[k] else None,
            })
    return rows

def task_chunk(layout: Layout, facility_names: list[str], chunk: int, a: int, b: int) -> list[dict]:
    """The maintenance tasks of facilities ``a`` to ``b`` (0-based), opened by each one's last inspection."""
    upkeep = layout.upkeep
    rng = layout.rng("maintenance_tasks", chunk)
    rows = []
    today = days(TODAY)
    for f in range(a, b):
        n = int(upkeep.task_count[f])
        if n == 0:
            continue
        last_insp = int(upkeep.offset[f] + upkeep.count[f])  # id of the facility's last inspection
        found = int(upkeep.last[f])
        failing = [j for j in range(6) if upkeep.std[f, j] != 0]
        cond = int(upkeep.condition[f])
        for k in range(n):
            title = TASK_TITLES[failing[k]] if k < len(failing) else GENERAL_TASK
            state = str(rng.choice(("open", "in_progress", "done"), p=(0.35, 0.25, 0.40)))
            estimate = float(1000 * rng.integers(2, 80))
            completed = None
            if state == "done":
                day = int(rng.integers(min(found + 7, today), today + 1))
                minute = int(rng.integers(0, 9 * 60))
                completed = (np.datetime64(day, "D") + np.timedelta64(minute, "m")).tolist()
                completed = completed.replace(tzinfo=UTC)
            rows.append({
                "id": int(upkeep.task_offset[f]) + k + 1, "facility_id": f + 1, "inspection_id": last_insp,
                "title": title + DEMO_MARK,
                "description": f"示例数据：{facility_names[f]}巡查发现的问题，需{title}。",
                "priority": ("normal", "normal", "high", "urgent")[cond] if k == 0 else
                str(rng.choice(("low", "normal"))),
                "assignee_id": None, "due_on": dates([found + int(rng.integers(30, 121))])[0],
                "cost_estimate": estimate,
                "cost_actual": round(estimate * float(rng.uniform(0.8, 1.2)), -1) if state == "done" else None,
                "funding_source": str(rng.choice(("provincial", "county", "city"), p=(0.5, 0.4, 0.1))),
                "state": state, "completed_at": completed, "verified_by_id": None, "verified_at": None,
                "status": "active", "is_demo": True,
            })
    return rows
