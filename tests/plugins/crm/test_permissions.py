"""Who may do what: viewers read, developers and members write, admins delete; API keys
by scope (`read`, `write`, `admin`, `crm.*`, one exact permission), never beyond their
creator's role. Every CRM route is checked for every kind of caller."""

from __future__ import annotations

import pytest

from tests.helpers import add_member, assert_error, create_key
from tests.plugins.crm.support import CrmApi as Api

# (method, path, body, permission, level)
ROUTES = [
    ("GET", "/api/leads", None, "crm.leads.read", "read"),
    ("GET", "/api/leads/{lead}", None, "crm.leads.read", "read"),
    ("POST", "/api/leads", {"name": "new lead"}, "crm.leads.write", "write"),
    ("PUT", "/api/leads/{lead}", {"notes": "edited"}, "crm.leads.write", "write"),
    ("DELETE", "/api/leads/{lead}", None, "crm.leads.delete", "delete"),
    ("GET", "/api/contacts", None, "crm.contacts.read", "read"),
    ("GET", "/api/contacts/{contact}", None, "crm.contacts.read", "read"),
    ("POST", "/api/contacts", {"name": "new contact"}, "crm.contacts.write", "write"),
    ("PUT", "/api/contacts/{contact}", {"notes": "edited"}, "crm.contacts.write", "write"),
    ("DELETE", "/api/contacts/{contact}", None, "crm.contacts.delete", "delete"),
    ("GET", "/api/companies", None, "crm.companies.read", "read"),
    ("GET", "/api/companies/{company}", None, "crm.companies.read", "read"),
    ("POST", "/api/companies", {"name": "new company"}, "crm.companies.write", "write"),
    ("PUT", "/api/companies/{company}", {"notes": "edited"}, "crm.companies.write", "write"),
    ("DELETE", "/api/companies/{company}", None, "crm.companies.delete", "delete"),
    ("GET", "/api/conversations", None, "crm.messages.read", "read"),
    ("GET", "/api/messages/{lead}", None, "crm.messages.read", "read"),
    ("POST", "/api/messages", {"leadId": "{lead}", "content": "hi"}, "crm.messages.write", "write"),
    ("GET", "/api/analytics/dashboard", None, "crm.analytics.read", "read"),
    ("GET", "/api/achievements", None, "crm.achievements.read", "read"),
]
SUCCESS = {"GET": 200, "POST": 201, "PUT": 200, "DELETE": 204}
EVERYTHING = {"read", "write", "delete"}

# caller: (role of the user, API key scopes or None for the user's JWT, what it may do)
CALLERS = {
    "viewer": ("viewer", None, {"read"}),
    "member": ("member", None, {"read", "write"}),
    "developer": ("developer", None, {"read", "write"}),
    "admin": ("admin", None, EVERYTHING),
    "admin key read": ("admin", ["read"], {"read"}),
    "admin key write": ("admin", ["write"], {"read", "write"}),
    "admin key admin": ("admin", ["admin"], EVERYTHING),
    "admin key crm.*": ("admin", ["crm.*"], EVERYTHING),
    "developer key crm.*": ("developer", ["crm.*"], {"read", "write"}),
    "developer key write": ("developer", ["write"], {"read", "write"}),
    "member key read": ("member", ["read"], {"read"}),
}


def fill(template, ids: dict):
    if isinstance(template, str):
        for name, value in ids.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    return template


async def fresh_rows(api: Api) -> dict:
    lead = await api.lead()
    await api.message(lead["id"], "hello", sender="lead")
    return {"lead": lead["id"], "contact": (await api.contact())["id"], "company": (await api.company())["id"]}


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_every_route_for_every_kind_of_caller(client, admin, api, caller):
    role, scopes, allowed = CALLERS[caller]
    account = admin if role == "admin" else await add_member(client, admin, role)
    if scopes is None:
        who = Api.of(client, account)
    else:
        who = Api.with_key(client, (await create_key(client, account, scopes))["key"])
    shared = await fresh_rows(api)
    for method, path, body, permission, level in ROUTES:
        ids = await fresh_rows(api) if method == "DELETE" else shared  # a DELETE may succeed
        response, answer = await who.request(method, fill(path, ids), fill(body, ids))
        if level in allowed:
            assert response.status_code == SUCCESS[method], (caller, method, path, answer)
        else:
            assert_error(response.status_code, answer, 403, "FORBIDDEN")
            assert answer["error"]["details"]["permission"] == permission, (caller, path, answer)
            if method != "GET" and "{" in path:  # a refused write changed nothing
                resource = path.split("/")[2]
                row = await api.get(f"/api/{resource}/{fill(path, ids).rsplit('/', 1)[1]}")
                assert row.get("notes") is None


async def test_an_exact_permission_scope_grants_only_that_permission(client, admin, api):
    who = Api.with_key(client, (await create_key(client, admin, ["crm.leads.read"]))["key"])
    lead = await api.lead()
    await who.get("/api/leads")
    await who.get(f"/api/leads/{lead['id']}")
    for method, path, body in [("POST", "/api/leads", {"name": "x"}), ("GET", "/api/contacts", None),
                               ("GET", f"/api/messages/{lead['id']}", None), ("GET", "/api/analytics/dashboard", None)]:
        await who.error(method, path, body, status=403, code="FORBIDDEN")


async def test_a_key_in_the_authorization_header_works_like_x_api_key(client, admin):
    key = (await create_key(client, admin, ["write"]))["key"]
    bearer = Api.with_key(client, key, header="Authorization")
    lead = await bearer.lead()
    await bearer.error("DELETE", f"/api/leads/{lead['id']}", status=403, code="FORBIDDEN")


async def test_crm_scope_does_not_reach_the_core(client, admin):
    who = Api.with_key(client, (await create_key(client, admin, ["crm.*"]))["key"])
    await who.error("GET", "/api/v1/tenant/members", status=403, code="FORBIDDEN")


async def test_without_credentials_every_route_is_401(client, api):
    ids = await fresh_rows(api)
    anonymous = Api(client, {})
    forged = Api(client, {"Authorization": "Bearer not-a-token"})
    for method, path, body, _, _ in ROUTES:
        for who in (anonymous, forged):
            response, answer = await who.request(method, fill(path, ids), fill(body, ids))
            assert response.status_code == 401, (method, path, answer)
            assert answer["error"]["code"] in ("AUTHENTICATION_FAILED", "TOKEN_EXPIRED"), answer
    assert (await api.get(f"/api/leads/{ids['lead']}"))["notes"] is None


async def test_a_demoted_member_loses_write_at_once(client, admin, api):
    developer = await add_member(client, admin, "developer")
    who = Api.of(client, developer)
    await who.lead()
    changed = await client.put(f"/api/v1/tenant/members/{developer.user_id}", headers=admin.headers,
                               json={"role": "viewer"})
    assert changed.status_code == 200, await changed.get_json()
    await who.error("POST", "/api/leads", {"name": "x"}, status=403, code="FORBIDDEN")
    assert (await who.get("/api/leads"))["total"] == 1
