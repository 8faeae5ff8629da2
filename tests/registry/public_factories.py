"""Records for the public tests: facilities, heritage sites, martyrs, tombs and relocations, demo-like."""

from __future__ import annotations

from pypinyin import lazy_pinyin
from shapely.geometry import LineString, Point

from registry.models import Facility, HeritageSite, Martyr, Relocation, Tomb

XSS_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">纪念碑'


def add_facility(session, code, name, lon, lat, *, category="monument", level="county", is_demo=True, **extra):
    facility = Facility(code=code, name=name, category=category, level=level, county_code="350802",
                        geom=Point(lon, lat), is_demo=is_demo, **extra)
    session.add(facility)
    session.flush()
    return facility


def add_martyr(session, name, *, unknown=False, is_demo=True, **extra):
    syllables = lazy_pinyin(name.replace("（示例）", ""))  # as the demo loader does: the name without its mark
    martyr = Martyr(name=name, name_pinyin="".join(syllables), name_initials="".join(s[0] for s in syllables),
                    is_unknown=unknown, is_demo=is_demo, **extra)
    session.add(martyr)
    session.flush()
    return martyr


def add_tomb(session, martyr, facility, lon, lat, *, plot=("A", "1", "1"), is_demo=True):
    tomb = Tomb(martyr_id=martyr.id if martyr else None, facility_id=facility.id if facility else None,
                plot_area=plot[0], plot_row=plot[1], plot_number=plot[2], geom=Point(lon, lat), is_demo=is_demo)
    session.add(tomb)
    session.flush()
    return tomb


def add_relocation(session, code, tomb, dest, origin=(116.9, 25.0)):
    relocation = Relocation(code=code, tomb_id=tomb.id, martyr_id=tomb.martyr_id, dest_facility_id=dest.id,
                            origin_lon=origin[0], origin_lat=origin[1], stage="accepted",
                            geom=LineString([origin, (dest.geom.x, dest.geom.y)]))
    session.add(relocation)
    return relocation


def add_heritage(session, code, name, lon, lat, *, education_base=True, is_demo=True):
    site = HeritageSite(code=code, name=name, kind="旧址", education_base=education_base, county_code="350802",
                        geom=Point(lon, lat), is_demo=is_demo)
    session.add(site)
    session.flush()
    return site


def demo_like(store) -> dict:
    """A small registry like the demo's: graded facilities, a cemetery with relocations, a heritage site."""
    with store.write_session() as session:
        national = add_facility(session, "F-1", "示例烈士陵园（示例）", 117.035, 25.110, category="cemetery",
                                level="national", description="陵园简介", visiting_info="每日 8:00-17:00 开放",
                                address="虎岭山", std_marker="present", std_road="deficient",
                                level_approved_by="国务院")
        monument = add_facility(session, "F-2", XSS_NAME, 117.00, 25.08, category="monument", level="county")
        pavilion = add_facility(session, "F-3", "示例纪念亭（示例）", 116.95, 25.05, category="pavilion",
                                level="ungraded")
        retired = add_facility(session, "F-4", "已撤销的纪念碑", 116.97, 25.06, status="retired")
        site = add_heritage(session, "H-1", "示例革命旧址（示例）", 117.01, 25.10)
        people = [add_martyr(session, name, death_year=1930 + i, native_place="龙岩县", unit="红十二军")
                  for i, name in enumerate(["张甲（示例）", "王乙（示例）", "李丙（示例）"])]
        unknown = add_martyr(session, "无名烈士", unknown=True, death_year=1934)
        tombs = [add_tomb(session, m, national, 117.035 + i * 0.0001, 25.110, plot=("A", "1", str(i + 1)))
                 for i, m in enumerate(people + [unknown])]
        add_relocation(session, "R-1", tombs[0], national)
        add_relocation(session, "R-2", tombs[1], national)
        session.commit()
        return {"national": national.id, "monument": monument.id, "pavilion": pavilion.id, "retired": retired.id,
                "site": site.id, "martyrs": [m.id for m in people], "unknown": unknown.id,
                "tombs": [t.id for t in tombs]}
