"""The public grave page tells where a relocated martyr first lay and when they were brought here."""

from __future__ import annotations

from sqlalchemy import select

from registry.models import Relocation
from registry.services.demo import load_demo


def test_grave_page_shows_the_journey_without_family_details(app, store):
    load_demo(store)
    with store.session() as session:
        moved = session.scalars(
            select(Relocation).where(Relocation.martyr_id.is_not(None), Relocation.reburied_on.is_not(None),
                                     Relocation.consent_by.is_not(None)).order_by(Relocation.id).limit(1)
        ).one()
    page = app.test_client().get(f"/martyrs/{moved.martyr_id}").get_data(as_text=True)
    assert "迁葬经过" in page
    assert moved.origin_place in page
    assert moved.reburied_on.isoformat() in page
    assert f'href="/facilities/{moved.dest_facility_id}"' in page
    assert moved.consent_by not in page  # the family's names never reach the public page


def test_a_martyr_never_moved_has_no_journey(app, store):
    from registry.models import Martyr

    load_demo(store)
    with store.session() as session:
        moved_ids = select(Relocation.martyr_id).where(Relocation.martyr_id.is_not(None))
        stayed = session.scalars(select(Martyr.id).where(Martyr.id.not_in(moved_ids)).limit(1)).one()
    page = app.test_client().get(f"/martyrs/{stayed}").get_data(as_text=True)
    assert "迁葬经过" not in page
