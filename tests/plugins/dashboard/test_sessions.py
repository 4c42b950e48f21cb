"""The dashboard without a browser: sign-in and its cookie, CSRF refusals, logout ending the session,
menus by role and by plugin switches, tenancy through the API, and the offline /docs pages."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from core.testing import PASSWORD, add_member, register_and_login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page[:2000]
    return match.group(1)


async def sign_in(client, email: str, password: str = PASSWORD, scheme: str = "http"):
    page = await (await client.get("/dashboard/login", scheme=scheme)).get_data(as_text=True)
    response = await client.post("/dashboard/login", scheme=scheme, form={
        "email": email, "password": password, "csrf_token": csrf_of(page), "next": "/dashboard/leads"})
    return response


def session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("hub_session="))


async def page_of(client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status_code, await response.get_data(as_text=True)


async def test_sign_in_sets_a_locked_down_cookie(hub_app, admin):
    client = hub_app.test_client()
    response = await sign_in(client, admin.email)
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/leads"
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    status, page = await page_of(client, "/dashboard/leads")
    assert status == 200 and admin.email in page
    secure = hub_app.test_client()
    assert "Secure" in session_cookie(await sign_in(secure, admin.email, scheme="https"))
    # X-Forwarded-Proto counts only from a trusted proxy ([rate_limits] trusted_proxies: none here)
    forwarded = hub_app.test_client()
    page = await (await forwarded.get("/dashboard/login")).get_data(as_text=True)
    response = await forwarded.post("/dashboard/login", headers={"X-Forwarded-Proto": "https"}, form={
        "email": admin.email, "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert "Secure" not in session_cookie(response)


async def test_pages_need_a_session_and_the_right_password(hub_app, admin):
    client = hub_app.test_client()
    response = await client.get("/dashboard/leads")
    assert response.status_code == 303 and response.headers["Location"].startswith("/dashboard/login?next=")
    response = await sign_in(client, admin.email, "wrong-password")
    assert response.status_code == 401 and "Invalid email or password" in await response.get_data(as_text=True)
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("hub_session=")]
    forged = hub_app.test_client()
    status, _ = await page_of(forged, "/dashboard/leads")
    assert status == 303


async def test_login_form_and_every_form_need_the_csrf_token(hub_app, admin, api):
    client = hub_app.test_client()
    await client.get("/dashboard/login")
    response = await client.post("/dashboard/login", form={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 403  # login CSRF: no token, no session
    await sign_in(client, admin.email)
    _, page = await page_of(client, "/dashboard/leads")
    token = csrf_of(page)
    tokens = set(CSRF.findall(page))  # every form of the page carries the session's token
    assert tokens == {token} and len(CSRF.findall(page)) >= 2
    for form in ({"name": "No token"}, {"name": "Bad token", "csrf_token": "x" * 43}):
        response = await client.post("/dashboard/leads", form=form)
        assert response.status_code == 403
    assert (await api.get("/api/leads"))["total"] == 0
    response = await client.post("/dashboard/leads", form={"name": "Ada Lead", "value": "12.5", "csrf_token": token})
    assert response.status_code == 303
    leads = (await api.get("/api/leads"))["leads"]
    assert [(lead["name"], lead["value"]) for lead in leads] == [("Ada Lead", 12.5)]
    # an API error is shown on the page with the API's status
    response = await client.post("/dashboard/leads", form={"name": "", "csrf_token": token})
    assert response.status_code == 400 and 'id="error"' in await response.get_data(as_text=True)
    # the header works for scripts (htmx, fetch), and the socket token needs it
    assert (await client.post("/dashboard/socket-token")).status_code == 403
    answer = await client.post("/dashboard/socket-token", headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and (await answer.get_json())["token"]


async def test_logout_ends_the_session_everywhere(hub_app, admin):
    client = hub_app.test_client()
    cookie = session_cookie(await sign_in(client, admin.email)).split(";")[0]
    _, page = await page_of(client, "/dashboard/")
    token = csrf_of(page)
    socket_token = (await (await client.post("/dashboard/socket-token", headers={"X-CSRF-Token": token})).get_json())["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {socket_token}"})
    assert me.status_code == 200
    response = await client.post("/dashboard/logout", form={"csrf_token": token})
    assert response.status_code == 303
    replay = hub_app.test_client()  # the old cookie, kept by an attacker, is worth nothing now
    response = await replay.get("/dashboard/leads", headers={"Cookie": cookie})
    assert response.status_code == 303 and "/dashboard/login" in response.headers["Location"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {socket_token}"})
    assert me.status_code == 401


async def test_menus_follow_the_role(hub_app, hub_client, admin):
    viewer = await add_member(hub_client, admin, "viewer")
    client = hub_app.test_client()
    await sign_in(client, viewer.email)
    _, page = await page_of(client, "/dashboard/")
    assert 'data-page="leads"' in page and 'data-page="plugins"' not in page and 'data-page="keys"' not in page
    assert 'data-page="webhooks"' not in page
    status, _ = await page_of(client, "/dashboard/admin/plugins")
    assert status == 403
    _, page = await page_of(client, "/dashboard/leads")
    assert 'id="new-lead"' not in page  # no write form for a viewer
    boss = hub_app.test_client()
    await sign_in(boss, admin.email)
    _, page = await page_of(boss, "/dashboard/")
    assert all(f'data-page="{name}"' in page for name in ("plugins", "keys", "webhooks", "members", "leads"))


async def test_pages_of_a_switched_off_plugin_disappear(hub_app, hub_client):
    owner = await register_and_login(hub_client, organization_name="Switches")
    client = hub_app.test_client()
    await sign_in(client, owner.email)
    _, page = await page_of(client, "/dashboard/admin/plugins")
    response = await client.post("/dashboard/admin/plugins/crm", form={"enabled": "false", "csrf_token": csrf_of(page)})
    assert response.status_code == 303
    _, page = await page_of(client, "/dashboard/")
    assert 'data-page="leads"' not in page and 'data-page="contacts"' not in page
    status, _ = await page_of(client, "/dashboard/leads")
    assert status == 404


async def test_another_organizations_lead_is_not_found(hub_app, api, other_api, admin):
    lead = await other_api.post("/api/leads", {"name": "Theirs"})
    client = hub_app.test_client()
    await sign_in(client, admin.email)
    status, page = await page_of(client, f"/dashboard/leads/{lead['id']}")
    assert status == 404 and "Theirs" not in page


async def test_pages_carry_security_headers(hub_app, admin):
    client = hub_app.test_client()
    await sign_in(client, admin.email)
    response = await client.get("/dashboard/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"


async def test_documentation_pages_load_nothing_from_elsewhere(hub_client):
    for path in ("/docs", "/redocs", "/scalar"):
        page = await (await hub_client.get(path)).get_data(as_text=True)
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(source.startswith("/") for source in sources), (path, sources)
        for source in sources:
            response = await hub_client.get(source)
            assert response.status_code == 200, source
    assert "validatorUrl: null" in await (await hub_client.get("/docs")).get_data(as_text=True)


async def test_the_current_role_counts_and_a_removal_ends_the_session(hub_app, hub_client, admin):
    member = await add_member(hub_client, admin, "viewer")
    client = hub_app.test_client()
    await sign_in(client, member.email)
    assert (await page_of(client, "/dashboard/admin/plugins"))[0] == 403
    promoted = await hub_client.put(f"/api/v1/tenant/members/{member.user_id}", headers=admin.headers,
                                    json={"role": "admin"})
    assert promoted.status_code == 200
    status, page = await page_of(client, "/dashboard/admin/plugins")
    assert status == 200 and 'data-page="plugins"' in page
    removed = await hub_client.delete(f"/api/v1/tenant/members/{member.user_id}", headers=admin.headers)
    assert removed.status_code in (200, 204)
    response = await client.get("/dashboard/")
    assert response.status_code == 303 and "/dashboard/login" in response.headers["Location"]


async def test_next_never_leaves_the_dashboard(hub_app, admin):
    client = hub_app.test_client()
    for target in ("https://evil.example/x", "//evil.example/x", "/api/auth/me", "/\\evil.example"):
        page = await (await client.get("/dashboard/login")).get_data(as_text=True)
        response = await client.post("/dashboard/login", form={
            "email": admin.email, "password": PASSWORD, "csrf_token": csrf_of(page), "next": target})
        assert response.status_code == 303 and response.headers["Location"] == "/dashboard/", target


async def test_the_overview_charts_analytics_metrics_and_none_when_it_is_off(hub_app, hub_client):
    owner = await register_and_login(hub_client, organization_name="Charts")
    created = await hub_client.post("/api/leads", headers=owner.headers, json={"name": "Charted", "value": 40})
    assert created.status_code == 201
    client = hub_app.test_client()
    await sign_in(client, owner.email)
    _, page = await page_of(client, "/dashboard/")
    data = json.loads(re.search(r'<script type="application/json" id="charts-data">(.*?)</script>', page).group(1))
    leads = next(chart for chart in data if chart["name"] == "crm.leads")
    assert sum(leads["values"]) == 1 and len(leads["days"]) == len(leads["values"]) == 30
    assert next(chart for chart in data if chart["name"] == "crm.pipeline_value")["values"][-1] == 40
    switched = await hub_client.put("/api/v1/plugins/analytics", headers=owner.headers, json={"enabled": False})
    assert switched.status_code == 200
    _, page = await page_of(client, "/dashboard/")
    assert "data-metric=" not in page and "Charts appear when the analytics plugin is on" in page


async def test_ids_from_the_address_cannot_climb_to_other_api_routes(hub_app, admin):
    client = hub_app.test_client()
    await sign_in(client, admin.email)
    for lead in ("..", "../leads", "x?limit=1", "x%2F..", "."):
        status, _ = await page_of(client, f"/dashboard/conversations?lead={quote(lead, safe='')}")
        assert status == 404, lead


async def test_admin_pages_show_secrets_once_and_change_what_they_say(hub_app, hub_client):
    owner = await register_and_login(hub_client, organization_name="Admin pages")
    client = hub_app.test_client()
    await sign_in(client, owner.email)
    _, page = await page_of(client, "/dashboard/admin/members")
    token = csrf_of(page)
    response = await client.post("/dashboard/admin/members", form={
        "email": "invited-dash@example.com", "first_name": "In", "last_name": "Vited", "role": "member",
        "csrf_token": token})
    page = await response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="invite-token"' in page and "invited-dash@example.com" in page
    assert 'id="invite-token"' not in (await page_of(client, "/dashboard/admin/members"))[1]  # once
    response = await client.post("/dashboard/admin/webhooks", form={
        "url": "https://93.184.216.34/hub", "events": "lead.*", "csrf_token": token})
    page = await response.get_data(as_text=True)
    assert 'id="webhook-secret"' in page and "https://93.184.216.34/hub" in page, page[page.find('<main'):][:900]
    # the SSRF guard's refusal is the API's, shown on the page
    response = await client.post("/dashboard/admin/webhooks", form={
        "url": "http://127.0.0.1:9/x", "events": "*", "csrf_token": token})
    assert response.status_code == 400 and 'id="error"' in await response.get_data(as_text=True)
    response = await client.post("/dashboard/admin/billing", form={"plan": "pro", "csrf_token": token})
    assert response.status_code == 303
    _, page = await page_of(client, "/dashboard/admin/billing")
    assert re.search(r'id="current-plan">pro<', page)


async def test_recommender_page_tries_recommendations_for_a_user(hub_app, hub_client):
    owner = await register_and_login(hub_client, organization_name="Recs")
    for item in ("i1", "i2", "i3"):
        response = await hub_client.post("/api/v1/interactions", headers=owner.headers,
                                          json={"user_id": "u1", "item_id": item, "interaction_type": "view"})
        assert response.status_code in (200, 201, 202), await response.get_json()
    client = hub_app.test_client()
    await sign_in(client, owner.email)
    _, page = await page_of(client, "/dashboard/recommender")
    response = await client.post("/dashboard/recommender/try", form={"user_id": "u2", "count": "2",
                                                                      "csrf_token": csrf_of(page)})
    page = await response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert 'id="recommendations"' in page and "fallback: popular" in page
