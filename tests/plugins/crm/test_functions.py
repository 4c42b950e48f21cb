"""The CRM's LLM functions (hub_functions), called through core.functions with real
principals; and what switching the plugin off for one organization hides."""

from __future__ import annotations

import uuid

import pytest

from core.kernel.errors import HubError
from core.events.bus import emit
from core.tenancy.functions import available_functions, call_function
from tests.helpers import assert_error, create_key
from tests.plugins.crm.support import LEAD_KEYS, CONTACT_KEYS, SEED_MESSAGE

CRM_FUNCTIONS = {"create_lead", "update_lead_status", "search_contacts", "get_lead", "log_message"}
READ_FUNCTIONS = {"search_contacts", "get_lead"}


@pytest.fixture
def call(app, hub):
    async def run(principal, name: str, arguments: dict):
        async with app.app_context():
            return await call_function(hub, principal, name, arguments)

    return run


@pytest.fixture
def offered(app, hub):
    async def run(principal) -> set[str]:
        async with app.app_context():
            return {f.name for f in await available_functions(hub, principal)} & CRM_FUNCTIONS

    return run


async def fails(coroutine, code: str, field: str | None = None) -> HubError:
    with pytest.raises(HubError) as caught:
        await coroutine
    assert caught.value.code == code, (caught.value.code, caught.value.details)
    if field is not None:
        assert caught.value.details["field"] == field, caught.value.details
    return caught.value


async def test_every_function_works_for_an_admin(api, admin, principal_of, call, offered, hub):
    principal = await principal_of(admin)
    assert await offered(principal) == CRM_FUNCTIONS
    for name in CRM_FUNCTIONS:  # each has a pydantic model a model can be given as a JSON schema
        assert hub.functions[name].args_model.model_json_schema()["type"] == "object"

    lead = await call(principal, "create_lead", {"name": "Ada Lovelace", "email": "ada@example.com",
                                                 "company": "Engines", "value": 1200, "notes": "from chat"})
    assert set(lead) == LEAD_KEYS and lead["source"] == "ai" and lead["status"] == "new"
    assert await api.get(f"/api/leads/{lead['id']}") == lead

    assert await call(principal, "get_lead", {"lead_id": lead["id"]}) == lead
    moved = await call(principal, "update_lead_status", {"lead_id": lead["id"], "status": "qualified"})
    assert moved["status"] == "qualified"
    assert (await api.get(f"/api/leads/{lead['id']}"))["status"] == "qualified"

    message = await call(principal, "log_message", {"lead_id": lead["id"], "content": "Sent the proposal"})
    assert set(message) == set(SEED_MESSAGE) and message["sender"] == "agent"
    incoming = await call(principal, "log_message", {"lead_id": lead["id"], "content": "Got it", "sender": "lead"})
    assert incoming["sender"] == "lead"
    conversation = (await api.get("/api/conversations"))["conversations"][0]
    assert conversation["unreadCount"] == 1 and conversation["lastMessage"]["content"] == "Got it"

    await api.contact(name="Grace Hopper", email="grace@navy.mil", company="Navy", tags=["admiral"])
    await api.contact(name="Alan Turing", email="alan@bletchley.uk", company="Bletchley", tags=["codes"])
    await api.contact(name="Grace Kelly", email="grace@monaco.mc", tags=["actor"])
    found = await call(principal, "search_contacts", {"query": "GRACE"})
    assert [c["name"] for c in found["contacts"]] == ["Grace Hopper", "Grace Kelly"] and found["total"] == 2
    assert all(set(c) == CONTACT_KEYS for c in found["contacts"])
    tagged = await call(principal, "search_contacts", {"query": "grace", "tags": ["admiral"]})
    assert [c["name"] for c in tagged["contacts"]] == ["Grace Hopper"]
    limited = await call(principal, "search_contacts", {"query": "a", "limit": 1})
    assert len(limited["contacts"]) == 1 and limited["total"] == 3


@pytest.mark.parametrize("name, arguments, field", [
    ("create_lead", {}, "name"),
    ("create_lead", {"name": ""}, "name"),
    ("create_lead", {"name": "x", "email": "not-an-email"}, "email"),
    ("create_lead", {"name": "x", "value": -5}, "value"),
    ("create_lead", {"name": "x", "source": "Not A Source!"}, "source"),
    ("create_lead", {"name": "x", "notes": "n" * 10_001}, "notes"),
    ("create_lead", {"name": "x", "phone": "call me"}, "phone"),
    ("update_lead_status", {"lead_id": "LEAD", "status": "won"}, "status"),
    ("update_lead_status", {"status": "qualified"}, "lead_id"),
    ("get_lead", {}, "lead_id"),
    ("search_contacts", {"query": ""}, "query"),
    ("search_contacts", {"query": "x", "limit": 51}, "limit"),
    ("search_contacts", {"query": "x", "tags": "vip"}, "tags"),
    ("log_message", {"lead_id": "LEAD", "content": ""}, "content"),
    ("log_message", {"lead_id": "LEAD", "content": "hi", "sender": "bot"}, "sender"),
])
async def test_arguments_are_validated(module_api, principal_of, call, name, arguments, field):
    api = module_api
    lead = await api.lead()
    before = (await api.get("/api/leads"))["total"]
    arguments = {k: (lead["id"] if v == "LEAD" else v) for k, v in arguments.items()}
    await fails(call(await principal_of(api.account), name, arguments), "VALIDATION_ERROR", field)
    assert (await api.get("/api/leads"))["total"] == before
    assert (await api.get(f"/api/leads/{lead['id']}"))["status"] == "new"
    assert (await api.get(f"/api/messages/{lead['id']}"))["total"] == 0


async def test_functions_keep_the_rules_and_the_organization(api, other_api, admin, other_admin, principal_of, call):
    principal = await principal_of(admin)
    lead = await api.lead()
    error = await fails(call(principal, "update_lead_status", {"lead_id": lead["id"], "status": "converted"}),
                        "VALIDATION_ERROR", "status")
    assert error.details["allowed"] == ["contacted", "lost", "qualified"]
    await fails(call(principal, "get_lead", {"lead_id": str(uuid.uuid4())}), "NOT_FOUND")
    await fails(call(principal, "get_lead", {"lead_id": "garbage"}), "NOT_FOUND")

    theirs = await other_api.lead(name="Not yours")
    await other_api.contact(name="Secret Person")
    for name, arguments in [("get_lead", {"lead_id": theirs["id"]}),
                            ("update_lead_status", {"lead_id": theirs["id"], "status": "lost"}),
                            ("log_message", {"lead_id": theirs["id"], "content": "hi"})]:
        await fails(call(principal, name, arguments), "NOT_FOUND")
    assert (await call(principal, "search_contacts", {"query": "secret"}))["total"] == 0
    created = await call(principal, "create_lead", {"name": "Mine"})
    assert (await other_api.get("/api/leads"))["total"] == 1
    await other_api.error("GET", f"/api/leads/{created['id']}", status=404, code="NOT_FOUND")
    assert (await other_api.get(f"/api/leads/{theirs['id']}"))["status"] == "new"
    assert (await other_api.get(f"/api/messages/{theirs['id']}"))["total"] == 0


async def test_functions_respect_permissions(client, admin, member_api, principal_of, call, offered):
    viewer = await member_api("viewer")
    developer = await member_api("developer")
    viewer_principal = await principal_of(viewer.account)
    assert await offered(viewer_principal) == READ_FUNCTIONS
    error = await fails(call(viewer_principal, "create_lead", {"name": "nope"}), "FORBIDDEN")
    assert error.details["permission"] == "crm.leads.write"
    await fails(call(viewer_principal, "log_message", {"lead_id": str(uuid.uuid4()), "content": "x"}), "FORBIDDEN")
    assert (await call(viewer_principal, "search_contacts", {"query": "x"}))["total"] == 0

    developer_principal = await principal_of(developer.account)
    assert await offered(developer_principal) == CRM_FUNCTIONS
    lead = await call(developer_principal, "create_lead", {"name": "by a developer"})
    assert (await call(viewer_principal, "get_lead", {"lead_id": lead["id"]}))["name"] == "by a developer"

    read_key = (await create_key(client, admin, ["read"]))["key"]
    key_principal = await principal_of(read_key)
    assert await offered(key_principal) == READ_FUNCTIONS
    await fails(call(key_principal, "create_lead", {"name": "nope"}), "FORBIDDEN")
    crm_key = (await create_key(client, developer.account, ["crm.*"]))["key"]
    assert await offered(await principal_of(crm_key)) == CRM_FUNCTIONS


async def test_switching_the_plugin_off_hides_routes_functions_and_events(
        app, hub, client, api, other_api, admin, other_admin, principal_of, call, offered):
    lead = await api.lead()
    principal = await principal_of(admin)
    off = await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": False})
    assert off.status_code == 200, await off.get_json()
    try:
        for method, path, body in [
            ("GET", "/api/leads", None), ("POST", "/api/leads", {"name": "x"}),
            ("GET", f"/api/leads/{lead['id']}", None), ("PUT", f"/api/leads/{lead['id']}", {"name": "y"}),
            ("DELETE", f"/api/leads/{lead['id']}", None), ("GET", "/api/contacts", None),
            ("POST", "/api/contacts", {"name": "x"}), ("GET", "/api/companies", None),
            ("POST", "/api/companies", {"name": "x"}), ("GET", "/api/conversations", None),
            ("GET", f"/api/messages/{lead['id']}", None),
            ("POST", "/api/messages", {"leadId": lead["id"], "content": "x"}),
            ("GET", "/api/analytics/dashboard", None), ("GET", "/api/achievements", None),
        ]:
            response, error = await api.request(method, path, body)
            assert_error(response.status_code, error, 404, "NOT_FOUND")
        assert await offered(principal) == set()
        await fails(call(principal, "get_lead", {"lead_id": lead["id"]}), "NOT_FOUND")
        await fails(call(principal, "create_lead", {"name": "x"}), "NOT_FOUND")

        # the CRM receives none of the organization's events: no achievement progress
        async with app.app_context():
            # (a UUID, as the CRM emits: core's plugin-state cache keys str and UUID apart)
            await emit(uuid.UUID(admin.org_id), "lead.created", {
                "id": str(uuid.uuid4()), "name": "Off", "source": "other", "status": "new", "value": 0,
                "actorId": admin.user_id})

        # the other organization is unaffected
        assert (await other_api.get("/api/leads"))["total"] == 0
        assert (await other_api.lead())["status"] == "new"
        assert await offered(await principal_of(other_admin)) == CRM_FUNCTIONS
    finally:
        on = await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": True})
        assert on.status_code == 200, await on.get_json()
    assert (await api.get(f"/api/leads/{lead['id']}"))["name"] == lead["name"]  # the data is still there
    lead_hunter = {a["id"]: a for a in (await api.get("/api/achievements"))["achievements"]}["lead_hunter"]
    assert lead_hunter["progress"]["current"] == 1  # only the lead created while the plugin was on
    assert await offered(principal) == CRM_FUNCTIONS
