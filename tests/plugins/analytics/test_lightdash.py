"""Lightdash's own API under /analytics (and at the root, where its SDK sends its requests),
through the Quart client: `Authorization: ApiKey <Hub API key>`, `{"status": "ok", "results"}`
bodies and Lightdash's error shape; explores per plugin; metric queries and their pages;
another organization's project is a 404; plus the hub functions, the reader's read-only
connection and its statement timeout."""

from __future__ import annotations

import pytest

from tests.plugins.analytics.conftest import LEADS, OTHER_LEADS


@pytest.fixture
def lightdash(hub_client, key_for):
    """`await lightdash(account)`: (headers with `ApiKey <key>`, the organization's project uuid)."""

    async def make(account, scopes=("read",)):
        key = await key_for(account, list(scopes))
        headers = {"Authorization": f"ApiKey {key['key'] if 'key' in key else key['api_key']}"}
        response = await hub_client.get("/analytics/api/v1/org/projects", headers=headers)
        body = await response.get_json()
        assert response.status_code == 200 and body["status"] == "ok", body
        return headers, body["results"][0]["projectUuid"]

    return make


async def call(hub_client, method, path, headers, json=None, status=200):
    response = await hub_client.open(path, method=method, headers=headers, json=json)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


def query(explore, metrics, dimensions=(), filters=None, sorts=(), limit=500):
    return {"query": {"exploreName": explore, "metrics": list(metrics), "dimensions": list(dimensions),
                      "filters": filters or {}, "sorts": list(sorts), "limit": limit, "tableCalculations": []},
            "context": "api", "invalidateCache": False}


async def run(hub_client, headers, project, body, prefix="/analytics", page_size=500):
    submitted = await call(hub_client, "POST", f"{prefix}/api/v2/projects/{project}/query/metric-query", headers, body)
    query_uuid = submitted["results"]["queryUuid"]
    page = await call(hub_client, "GET", f"{prefix}/api/v2/projects/{project}/query/{query_uuid}?page=1&pageSize={page_size}",
                      headers)
    return submitted["results"], page["results"]


async def test_explores_and_a_metric_query_in_lightdash_shapes(hub_client, admin, other_admin, lightdash, insert_leads):
    headers, project = await lightdash(admin)
    await insert_leads(admin.org_id)
    await insert_leads(other_admin.org_id, OTHER_LEADS)

    explores = await call(hub_client, "GET", f"/analytics/api/v1/projects/{project}/explores", headers)
    names = {explore["name"] for explore in explores["results"]}
    assert {"crm", "support", "workflows", "billing", "llm", "recommender"} <= names
    crm = (await call(hub_client, "GET", f"/analytics/api/v1/projects/{project}/explores/crm", headers))["results"]
    table = crm["tables"][crm["baseTable"]]
    assert {"leads", "conversion_rate", "pipeline_value", "messages"} <= set(table["metrics"])
    assert {"status", "source", "period", "period_day", "period_week", "period_month"} <= set(table["dimensions"])
    assert table["dimensions"]["period_month"]["timeInterval"] == "MONTH"

    submitted, page = await run(hub_client, headers, project, query(
        "crm", ["crm_leads", "crm_conversion_rate"], ["crm_period_month", "crm_source"],
        sorts=[{"fieldId": "crm_leads", "descending": True}]))
    assert set(submitted["fields"]) == {"crm_leads", "crm_conversion_rate", "crm_period_month", "crm_source"}
    assert page["status"] == "ready" and page["totalResults"] == len(page["rows"])
    got = {(row["crm_period_month"]["value"]["raw"], row["crm_source"]["value"]["raw"]):
           (row["crm_leads"]["value"]["raw"], row["crm_conversion_rate"]["value"]["raw"]) for row in page["rows"]}
    assert got[("2024-01-01T00:00:00Z", "web")] == (2, 0.5)
    assert got[("2024-02-01T00:00:00Z", "referral")] == (2, 0.5)
    assert got[("2024-03-01T00:00:00Z", "ads")] == (1, 0.0)
    assert sum(count for count, _ in got.values()) == len(LEADS)  # never the other organization's
    leads = [row["crm_leads"]["value"]["raw"] for row in page["rows"]]
    assert leads == sorted(leads, reverse=True)

    # Lightdash's filters: a dimension, and the period between two days
    _, filtered = await run(hub_client, headers, project, query("crm", ["crm_leads"], ["crm_status"], filters={
        "dimensions": {"and": [
            {"target": {"fieldId": "crm_source"}, "operator": "equals", "values": ["web", "ads"]},
            {"target": {"fieldId": "crm_period_day"}, "operator": "inBetween", "values": ["2024-01-01", "2024-03-01"]},
        ]}}))
    assert {row["crm_status"]["value"]["raw"]: row["crm_leads"]["value"]["raw"] for row in filtered["rows"]} == \
        {"new": 1, "converted": 1, "qualified": 1}

    # pages
    _, first = await run(hub_client, headers, project, query("crm", ["crm_leads"], ["crm_period_day"]), page_size=2)
    assert first["totalPageCount"] == 3 and len(first["rows"]) == 2 and first["nextPage"] == 2


async def test_the_root_paths_the_sdk_uses_and_the_health(hub_client, admin, lightdash):
    headers, project = await lightdash(admin)
    health = await call(hub_client, "GET", "/api/v1/health", {})
    assert health["status"] == "ok" and health["results"]["query"]["maxLimit"] >= 1
    explores = await call(hub_client, "GET", f"/api/v1/projects/{project}/explores", headers)
    assert any(explore["name"] == "crm" for explore in explores["results"])
    _, page = await run(hub_client, headers, project, query("crm", ["crm_leads"]), prefix="")
    assert page["rows"] == [{"crm_leads": {"value": {"raw": 0, "formatted": "0"}}}]


async def test_another_organizations_project_and_query_are_404_and_bad_input_400(hub_client, admin, other_admin,
                                                                               lightdash):
    headers, project = await lightdash(admin)
    other_headers, other_project = await lightdash(other_admin)
    for path in (f"/analytics/api/v1/projects/{other_project}/explores",
                 f"/analytics/api/v1/projects/{other_project}/explores/crm", f"/api/v1/projects/{other_project}",
                 "/analytics/api/v1/projects/not-a-uuid/explores"):
        body = await call(hub_client, "GET", path, headers, status=404)
        assert body == {"status": "error", "error": {"statusCode": 404, "name": "NotFoundError", "code": "NOT_FOUND",
                                                     "message": body["error"]["message"]}}
    await call(hub_client, "POST", f"/analytics/api/v2/projects/{other_project}/query/metric-query", headers,
               query("crm", ["crm_leads"]), status=404)
    submitted, _ = await run(hub_client, headers, project, query("crm", ["crm_leads"]))
    await call(hub_client, "GET", f"/analytics/api/v2/projects/{other_project}/query/{submitted['queryUuid']}",
               other_headers, status=404)  # their key, their project, my query: not found

    bad = [
        query("crm", ["crm_nope"]), query("crm", ["crm_leads"], ["crm_email"]), query("crm", []),
        query("crm", ["crm_leads"], ["crm_period_day", "crm_period_month"]),
        query("crm", ["crm_leads"], filters={"dimensions": {"and": [
            {"target": {"fieldId": "crm_status"}, "operator": "matchesRegex", "values": ["."]}]}}),
        query("crm", ["crm_messages"], ["crm_source"]),  # messages have no source
        query("crm", ["crm_leads"], limit=10 ** 9), query("crm", ["crm_leads"], sorts=[{"fieldId": "crm_value"}]),
        {"query": {**query("crm", ["crm_leads"])["query"], "tableCalculations": [{"name": "x", "sql": "1"}]}},
    ]
    for body in bad:
        answer = await call(hub_client, "POST", f"/analytics/api/v2/projects/{project}/query/metric-query", headers,
                            body, status=400)
        assert answer["status"] == "error" and answer["error"]["name"] == "ParameterError", body
    await call(hub_client, "POST", f"/analytics/api/v2/projects/{project}/query/metric-query", headers,
               query("nope", ["nope_leads"]), status=404)
    unauthorized = await call(hub_client, "GET", f"/analytics/api/v1/projects/{project}/explores",
                              {"Authorization": "ApiKey hub_not_a_key"}, status=401)
    assert unauthorized["error"]["name"] == "AuthorizationError"


async def test_hub_functions_list_and_query_metrics(app, hub, admin, other_admin, insert_leads, principal_of):
    from core.kernel.errors import HubError
    from core.tenancy.functions import call_function

    await insert_leads(admin.org_id)
    await insert_leads(other_admin.org_id, OTHER_LEADS)
    principal = await principal_of(admin)
    async with app.app_context():
        listed = await call_function(hub, principal, "list_metrics", {})
        assert "crm.leads" in {metric["id"] for metric in listed["metrics"]}
        result = await call_function(hub, principal, "query_metric", {
            "metric": "crm.leads", "from": "2024-01-01", "to": "2024-03-31", "granularity": "month",
            "group_by": ["status"], "filters": {"source": ["web", "referral"]}})
        assert result["metric"] == "crm.leads"
        assert sorted((row["period"], row["status"], row["value"]) for row in result["rows"]) == [
            ("2024-01-01T00:00:00Z", "converted", 1), ("2024-01-01T00:00:00Z", "new", 1),
            ("2024-02-01T00:00:00Z", "converted", 1), ("2024-02-01T00:00:00Z", "lost", 1),
            ("2024-03-01T00:00:00Z", "qualified", 1)]
        with pytest.raises(HubError) as caught:
            await call_function(hub, principal, "query_metric", {"metric": "crm.leads", "group_by": ["email"]})
        assert caught.value.status == 400


async def test_the_reader_cannot_write_and_stops_a_long_statement(app, hub, monkeypatch):
    from plugins.analytics import reader as readers

    settings = hub.plugin_settings("analytics")
    monkeypatch.setattr(settings, "statement_timeout_seconds", 0.2)
    async with app.app_context():
        reader = readers.make_reader(hub)
        try:
            assert await reader.fetch("SELECT 1", []) == [(1,)]
            with pytest.raises(Exception) as refused:
                await reader.fetch("DELETE FROM crm_lead", [])
            assert "read" in str(refused.value).lower()
            endless = ("SELECT pg_sleep(30)" if reader.dialect == "postgres" else
                       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
            with pytest.raises(readers.QueryTimeout):
                await reader.fetch(endless, [])
            assert await reader.fetch("SELECT 2", []) == [(2,)]  # the connection still serves
        finally:
            await reader.close()
