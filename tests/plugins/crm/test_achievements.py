"""Achievements (seed 004 "Achievements API"), unlocked by the real event flow: requests
emit lead/message events, the CRM's hub_on_event advances the actor's progress."""

from __future__ import annotations

from tests.plugins.crm.support import SEED_ACHIEVEMENTS, assert_same_types, parse_time

CATALOGUE = {  # code: (target, points)
    "first_lead": (1, 50), "lead_hunter": (25, 150), "first_contact": (1, 50), "conversationalist": (50, 200),
    "qualifier": (10, 250), "first_sale": (1, 100), "closer": (10, 500),
}


async def board(api) -> tuple[dict, dict]:
    body = await api.get("/api/achievements")
    return {a["id"]: a for a in body["achievements"]}, body["progress"]


def progress(achievement: dict) -> tuple[int, int, int]:
    p = achievement["progress"]
    return p["current"], p["target"], p["percentage"]


async def test_a_new_member_sees_the_whole_catalogue_locked(api):
    body = await api.get("/api/achievements")
    assert_same_types(body, SEED_ACHIEVEMENTS)
    by_id = {a["id"]: a for a in body["achievements"]}
    assert set(by_id) == set(CATALOGUE)
    for code, (target, _) in CATALOGUE.items():
        assert by_id[code]["unlockedAt"] is None and progress(by_id[code]) == (0, target, 0)
    assert body["progress"] == {"totalUnlocked": 0, "totalAvailable": len(CATALOGUE), "points": 0}
    assert by_id["first_sale"]["title"] == "First Sale" and by_id["first_sale"]["description"] == "Closed your first deal"
    assert (by_id["first_sale"]["category"], by_id["first_sale"]["rarity"]) == ("sales", "common")


async def test_first_lead_first_contact_and_first_sale_unlock_through_real_events(api, events, admin):
    lead = await api.lead()
    achievements, totals = await board(api)
    assert achievements["first_lead"]["unlockedAt"] is not None
    assert progress(achievements["first_lead"]) == (1, 1, 100)
    assert progress(achievements["lead_hunter"]) == (1, 25, 4)
    assert totals == {"totalUnlocked": 1, "totalAvailable": 7, "points": 50}

    await api.message(lead["id"], "from the lead", sender="lead")  # a lead writing is not our contact
    assert (await board(api))[0]["first_contact"]["unlockedAt"] is None
    await api.message(lead["id"], "Hello!", sender="agent")
    achievements, totals = await board(api)
    assert achievements["first_contact"]["unlockedAt"] is not None
    assert progress(achievements["conversationalist"]) == (1, 50, 2)

    await api.put(f"/api/leads/{lead['id']}", {"status": "qualified"})
    assert (await board(api))[0]["first_sale"]["unlockedAt"] is None
    await api.put(f"/api/leads/{lead['id']}", {"status": "converted"})
    achievements, totals = await board(api)
    assert progress(achievements["first_sale"]) == (1, 1, 100) and achievements["first_sale"]["unlockedAt"]
    assert progress(achievements["closer"]) == (1, 10, 10) and achievements["closer"]["unlockedAt"] is None
    assert progress(achievements["qualifier"]) == (1, 10, 10)
    assert totals == {"totalUnlocked": 3, "totalAvailable": 7, "points": 50 + 50 + 100}

    unlocked = events.of(admin.org_id, "achievement.unlocked")
    assert [e.data["code"] for e in unlocked] == ["first_lead", "first_contact", "first_sale"]
    assert all(e.data["user_id"] == admin.user_id for e in unlocked)
    assert unlocked[2].data == {"code": "first_sale", "title": "First Sale", "points": 100, "user_id": admin.user_id}
    notes = events.of(admin.org_id, "notification.created")
    assert [n.data["data"]["code"] for n in notes] == ["first_lead", "first_contact", "first_sale"]
    assert notes[0].data["type"] == "achievement" and notes[0].data["user_id"] == admin.user_id
    assert parse_time(achievements["first_sale"]["unlockedAt"]) >= parse_time(achievements["first_lead"]["unlockedAt"])


async def test_qualifier_unlocks_at_ten_and_only_once(api, events, admin):
    leads = [await api.lead() for _ in range(11)]
    for lead in leads[:9]:
        await api.put(f"/api/leads/{lead['id']}", {"status": "qualified"})
    qualifier = (await board(api))[0]["qualifier"]
    assert progress(qualifier) == (9, 10, 90) and qualifier["unlockedAt"] is None

    await api.put(f"/api/leads/{leads[9]['id']}", {"status": "qualified"})
    qualifier = (await board(api))[0]["qualifier"]
    assert progress(qualifier) == (10, 10, 100) and qualifier["unlockedAt"] is not None

    await api.put(f"/api/leads/{leads[10]['id']}", {"status": "qualified"})
    await api.put(f"/api/leads/{leads[10]['id']}", {"status": "qualified"})  # same status: not a new qualification
    again = (await board(api))[0]["qualifier"]
    assert progress(again) == (10, 10, 100)  # shown capped at the target
    assert again["unlockedAt"] == qualifier["unlockedAt"]
    codes = [e.data["code"] for e in events.of(admin.org_id, "achievement.unlocked")]
    assert codes.count("qualifier") == 1 and codes.count("first_lead") == 1


async def test_lead_hunter_needs_25_leads(api):
    for _ in range(24):
        await api.lead()
    assert (await board(api))[0]["lead_hunter"]["unlockedAt"] is None
    await api.lead()
    achievements, totals = await board(api)
    assert progress(achievements["lead_hunter"]) == (25, 25, 100) and achievements["lead_hunter"]["unlockedAt"]
    assert totals["points"] == 50 + 150


async def test_progress_is_per_member(api, member_api, events, admin):
    developer = await member_api("developer")
    viewer = await member_api("viewer")
    await api.lead()
    await api.lead()
    mine, _ = await board(api)
    theirs, their_totals = await board(developer)
    assert progress(mine["lead_hunter"]) == (2, 25, 8)
    assert progress(theirs["lead_hunter"]) == (0, 25, 0) and their_totals["totalUnlocked"] == 0

    lead = await developer.lead()
    await developer.put(f"/api/leads/{lead['id']}", {"status": "qualified"})
    theirs, their_totals = await board(developer)
    assert theirs["first_lead"]["unlockedAt"] is not None and progress(theirs["qualifier"]) == (1, 10, 10)
    assert their_totals == {"totalUnlocked": 1, "totalAvailable": 7, "points": 50}
    mine, _ = await board(api)
    assert progress(mine["lead_hunter"]) == (2, 25, 8) and progress(mine["qualifier"]) == (0, 10, 0)
    # the viewer reads their own (empty) board
    assert (await board(viewer))[1] == {"totalUnlocked": 0, "totalAvailable": 7, "points": 0}

    unlocked = events.of(admin.org_id, "achievement.unlocked")
    assert [(e.data["code"], e.data["user_id"]) for e in unlocked] == [
        ("first_lead", admin.user_id), ("first_lead", developer.account.user_id)]


async def test_an_api_key_acts_for_its_creator(api, key_api, admin):
    keyed = await key_api(admin, ["write"])
    await keyed.lead()
    achievements, _ = await board(api)
    assert achievements["first_lead"]["unlockedAt"] is not None


async def test_achievements_are_per_organization(api, other_api):
    await api.lead()
    _, totals = await board(other_api)
    assert totals["totalUnlocked"] == 0
