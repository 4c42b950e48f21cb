"""Lightdash's official Python SDK (`lightdash` from PyPI), unchanged, against one live
`hub serve`: pointed at `http://host/analytics` with a Hub API key (it sends
`Authorization: ApiKey <key>`, joins its paths to the host's root and reads
`{"status", "results"}`), it lists the plugins as models, reads their metrics and dimensions,
runs metric queries with filters and sorts through the v2 submit-and-poll API, and gets 404 for
another organization's project."""

from __future__ import annotations

import httpx
import pytest
from lightdash import Client

from tests.live_server import live_account, live_hub


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with live_hub(tmp_path_factory.mktemp("analytics-live"), env={"HUB_RATE_LIMITS__ENABLED": "false"}) as hub:
        yield hub


def organization(url: str, leads: list[tuple[str, str, float, str]]) -> dict:
    """A new organization with these leads (name, source, value, final status) made through the
    CRM's API; its API key and its analytics project's uuid."""
    account = live_account(url, scopes=["read", "write"])
    with httpx.Client(base_url=url, headers=account["headers"], timeout=30) as http:
        for name, source, value, status in leads:
            lead = http.post("/api/leads", json={"name": name, "source": source, "value": value})
            assert lead.status_code == 201, lead.text
            path = {"converted": ["qualified", "converted"], "lost": ["lost"], "new": []}[status]
            for step in path:
                answer = http.put(f"/api/leads/{lead.json()['id']}", json={"status": step})
                assert answer.status_code == 200, answer.text
        projects = http.get("/analytics/api/v1/projects").json()["projects"]
    return {**account, "project": projects[0]["projectUuid"]}


def test_the_official_sdk_reads_the_hubs_metrics(served):
    mine = organization(served.url, [("A", "website", 100, "converted"), ("B", "website", 200, "new"),
                                     ("C", "referral", 300, "lost"), ("D", "website", 400, "converted")])
    theirs = organization(served.url, [("Z", "website", 999, "converted")])
    client = Client(f"{served.url}/analytics", mine["api_key"], mine["project"])

    models = {model.name: model for model in client.list_models()}
    assert {"crm", "support", "workflows", "billing"} <= set(models)
    crm = client.get_model("crm")
    metrics = {metric.name: metric for metric in crm.list_metrics()}
    assert {"leads", "conversion_rate", "pipeline_value", "messages"} <= set(metrics)
    assert metrics["leads"].field_id == "crm_leads"
    assert {"status", "source", "period_month"} <= {dimension.name for dimension in crm.list_dimensions()}

    by_source = crm.query(metrics=[crm.metrics.leads, crm.metrics.conversion_rate, crm.metrics.lead_value],
                          dimensions=[crm.dimensions.source], sort=crm.metrics.leads.desc()).to_records()
    assert by_source == [
        {"Source": "website", "Leads": 3, "Conversion rate": pytest.approx(2 / 3), "Lead value": 700.0},
        {"Source": "referral", "Leads": 1, "Conversion rate": 0.0, "Lead value": 300.0},
    ]
    converted = crm.query(metrics=[crm.metrics.leads], dimensions=[crm.dimensions.status],
                          filters=crm.dimensions.status == "converted").to_records()
    assert converted == [{"Status": "converted", "Leads": 2}]
    this_month = crm.query(metrics=[crm.metrics.leads], dimensions=[crm.dimensions.period_month]).to_records()
    assert len(this_month) == 1 and this_month[0]["Leads"] == 4  # all made now, none of theirs
    pipeline = crm.query(metrics=[crm.metrics.pipeline_value]).to_records()
    assert pipeline == [{"Pipeline value": 200.0}]  # only B is still open

    # another organization's project is not found with my key; theirs sees only their lead
    intruder = Client(f"{served.url}/analytics", mine["api_key"], theirs["project"])
    with pytest.raises(httpx.HTTPStatusError) as missing:
        intruder.list_models()
    assert missing.value.response.status_code == 404
    other = Client(f"{served.url}/analytics", theirs["api_key"], theirs["project"]).get_model("crm")
    assert other.query(metrics=[other.metrics.leads]).to_records() == [{"Leads": 1}]
