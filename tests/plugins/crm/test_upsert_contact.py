"""The `upsert_contact` hub function (the shared contract of other plugins with the CRM): a
record of another system (source, external_id) becomes one contact, found again by its link or
by e-mail in any case, updated field by field, with contact.created / contact.updated events
naming the source; permissions and organizations hold."""

from __future__ import annotations

import asyncio

import pytest

from core.kernel.errors import HubError
from core.tenancy.functions import call_function
from plugins.crm.models import ContactLink


@pytest.fixture
def call(app, hub):
    async def run(principal, arguments: dict, name: str = "upsert_contact"):
        async with app.app_context():
            return await call_function(hub, principal, name, arguments)

    return run


async def test_create_then_find_by_link_and_update(api, admin, principal_of, call, events, hub):
    principal = await principal_of(admin)
    first = await call(principal, {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 1",
                                   "tags": ["dms"], "source": "dms:c1", "external_id": "42"})
    assert first["created"] is True
    contact = await api.get(f"/api/contacts/{first['id']}")
    assert (contact["name"], contact["email"], contact["phone"], contact["tags"]) == (
        "Ada Lovelace", "ada@example.com", "+44 1", ["dms"])
    await hub.bus.settle()
    [created] = [e for e in events.of(admin.org_id, "contact.created") if e.data["id"] == first["id"]]
    assert created.data["source"] == "dms:c1"

    # the same record again, unchanged: the same contact, no event
    again = await call(principal, {"name": "Ada Lovelace", "email": "ada@example.com", "source": "dms:c1",
                                   "external_id": "42", "tags": ["dms"]})
    assert again == {"id": first["id"], "created": False}
    await hub.bus.settle()
    assert not [e for e in events.of(admin.org_id, "contact.updated") if e.data["id"] == first["id"]]

    # its e-mail changed in the other system: found by the link, the field updated, tags added
    moved = await call(principal, {"name": "Ada King", "email": "ada@engines.example", "source": "dms:c1",
                                   "external_id": "42", "tags": ["vip"]})
    assert moved == {"id": first["id"], "created": False}
    contact = await api.get(f"/api/contacts/{first['id']}")
    assert (contact["name"], contact["email"], contact["phone"], contact["tags"]) == (
        "Ada King", "ada@engines.example", "+44 1", ["dms", "vip"])  # phone left out: kept
    assert [c["id"] for c in (await api.get("/api/contacts?tags=vip"))["contacts"]] == [first["id"]]
    assert [c["id"] for c in (await api.get("/api/contacts?search=engines.ex"))["contacts"]] == [first["id"]]
    await hub.bus.settle()
    [updated] = [e for e in events.of(admin.org_id, "contact.updated") if e.data["id"] == first["id"]]
    assert (updated.data["name"], updated.data["email"], updated.data["source"]) == (
        "Ada King", "ada@engines.example", "dms:c1")


async def test_found_by_email_in_any_case_and_linked(api, admin, principal_of, call):
    principal = await principal_of(admin)
    existing = await api.post("/api/contacts", {"name": "Grace Hopper", "email": "Grace@Navy.example"})
    result = await call(principal, {"name": "Grace Hopper", "email": "grace@navy.EXAMPLE", "source": "mautic",
                                    "external_id": "7"})
    assert result == {"id": existing["id"], "created": False}
    links = await ContactLink.for_org(admin.org_id).filter(source="mautic", external_id="7").values_list(
        "contact_id", flat=True)
    assert [str(link) for link in links] == [existing["id"]]
    # another system's record with that e-mail links to the same contact
    other = await call(principal, {"name": "G. Hopper", "email": "GRACE@navy.example", "source": "dms:c2",
                                   "external_id": "x-1"})
    assert other["id"] == existing["id"]
    # without an e-mail and without a link: a new contact
    fresh = await call(principal, {"name": "Grace Hopper", "source": "dms:c2", "external_id": "x-2"})
    assert fresh["created"] is True and fresh["id"] != existing["id"]


async def test_a_contact_deleted_in_the_crm_is_created_again(api, admin, principal_of, call):
    principal = await principal_of(admin)
    first = await call(principal, {"name": "Alan Turing", "source": "dms:c1", "external_id": "9"})
    await api.delete(f"/api/contacts/{first['id']}")
    assert not await ContactLink.for_org(admin.org_id).filter(external_id="9").exists()
    second = await call(principal, {"name": "Alan Turing", "source": "dms:c1", "external_id": "9"})
    assert second["created"] is True and second["id"] != first["id"]


async def test_concurrent_upserts_of_one_record_make_one_contact(api, admin, principal_of, call):
    principal = await principal_of(admin)
    results = await asyncio.gather(*(call(principal, {"name": "Katherine Johnson", "source": "dms:c1",
                                                      "external_id": "race"}) for _ in range(4)))
    assert len({r["id"] for r in results}) == 1
    assert await ContactLink.for_org(admin.org_id).filter(external_id="race").count() == 1


async def test_crm_api_events_carry_a_null_source(api, admin, events, hub):
    contact = await api.post("/api/contacts", {"name": "Own", "email": "own@example.com"})
    await api.put(f"/api/contacts/{contact['id']}", {"name": "Own Two"})
    await hub.bus.settle()
    [created] = [e for e in events.of(admin.org_id, "contact.created") if e.data["id"] == contact["id"]]
    [updated] = [e for e in events.of(admin.org_id, "contact.updated") if e.data["id"] == contact["id"]]
    assert created.data["source"] is None and updated.data["source"] is None
    assert updated.data["name"] == "Own Two"


async def test_permission_arguments_and_tenancy(api, other_api, admin, other_admin, principal_of, api_of, call):
    viewer = await api_of(role="viewer")
    with pytest.raises(HubError) as caught:
        await call(await principal_of(viewer.account), {"name": "X", "source": "s", "external_id": "1"})
    assert caught.value.code == "FORBIDDEN", caught.value.code
    with pytest.raises(HubError) as caught:
        await call(await principal_of(admin), {"name": "X", "source": "bad source!", "external_id": "1"})
    assert caught.value.code == "VALIDATION_ERROR"
    with pytest.raises(HubError) as caught:
        await call(await principal_of(admin), {"name": "X", "source": "s"})
    assert caught.value.code == "VALIDATION_ERROR"

    mine = await call(await principal_of(admin), {"name": "Mine", "email": "same@example.com", "source": "s",
                                                  "external_id": "1"})
    theirs = await call(await principal_of(other_admin), {"name": "Theirs", "email": "same@example.com",
                                                          "source": "s", "external_id": "1"})
    assert theirs["created"] is True and theirs["id"] != mine["id"]
    await other_api.error("GET", f"/api/contacts/{mine['id']}", status=404, code="NOT_FOUND")
