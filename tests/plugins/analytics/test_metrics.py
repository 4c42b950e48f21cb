"""Seed 000's `/analytics/api/v1/metrics` and `/projects`, and the `hub_metrics` hook: values
checked against rows the test writes (periods, boundaries, dimensions, filters, ratios, sums),
never mixed between organizations; bad input is a 400 naming the parameter; a disabled plugin's
metrics are gone."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest

from tests.plugins.analytics.conftest import LEADS, OTHER_LEADS, metrics_url


def month(moment) -> str:
    return moment.strftime("%Y-%m-01T00:00:00Z")


async def test_leads_by_month_status_and_source_match_the_rows(api, other_api, insert_leads):
    await insert_leads(api.org_id)
    await insert_leads(other_api.org_id, OTHER_LEADS)

    body = await api.get(metrics_url("crm.leads", granularity="month", **{"from": "2024-01-01", "to": "2024-03-31"}))
    assert body["metric"] == "crm.leads" and body["granularity"] == "month"
    expected = Counter(month(created) for created, *_ in LEADS)
    assert {row["period"]: row["value"] for row in body["rows"]} == expected
    assert [row["period"] for row in body["rows"]] == sorted(expected)

    by_status = await api.get(metrics_url("crm.leads", groupBy="status"))
    assert {row["status"]: row["value"] for row in by_status["rows"]} == Counter(s for _, s, _, _ in LEADS)
    assert all(row["period"] is None for row in by_status["rows"])

    both = await api.get(metrics_url("crm.leads", granularity="month", groupBy="source,status"))
    assert {(row["period"], row["source"], row["status"]): row["value"] for row in both["rows"]} == \
        Counter((month(c), source, status) for c, status, source, _ in LEADS)

    # the other organization sees its own rows only
    theirs = await other_api.get(metrics_url("crm.leads", groupBy="source"))
    assert {row["source"]: row["value"] for row in theirs["rows"]} == {"web": 2, "ads": 1}


async def test_from_and_to_are_inclusive_days_and_weeks_start_on_monday(api, insert_leads):
    await insert_leads(api.org_id)
    february = await api.get(metrics_url("crm.leads", **{"from": "2024-02-01", "to": "2024-02-29"}))
    assert february["rows"] == [{"period": None, "value": 2}]  # 2024-02-03 00:00 counts, 2024-03-01 does not
    last_day = await api.get(metrics_url("crm.leads", **{"from": "2024-03-31", "to": "2024-03-31"}))
    assert last_day["rows"][0]["value"] == 1  # 23:59:59 is still the 31st
    moment = await api.get(metrics_url("crm.leads", **{"from": "2024-01-20T23:30:00Z", "to": "2024-02-03T00:00:00Z"}))
    assert moment["rows"][0]["value"] == 2  # both ends inclusive

    weeks = await api.get(metrics_url("crm.leads", granularity="week", **{"from": "2024-01-01", "to": "2024-01-31"}))
    expected = defaultdict(int)
    day = date(2024, 1, 1)
    while day <= date(2024, 1, 31):  # every Monday of January is there, empty weeks at 0
        expected[f"{day.isoformat()}T00:00:00Z"] = 0
        day += timedelta(days=7)
    for created, *_ in LEADS:
        if created.month == 1:
            monday = created.date() - timedelta(days=created.weekday())
            expected[f"{monday.isoformat()}T00:00:00Z"] += 1
    assert {row["period"]: row["value"] for row in weeks["rows"]} == expected

    days = await api.get(metrics_url("crm.leads", granularity="day", **{"from": "2024-02-27", "to": "2024-03-01"}))
    assert [(row["period"][:10], row["value"]) for row in days["rows"]] == [
        ("2024-02-27", 0), ("2024-02-28", 1), ("2024-02-29", 0), ("2024-03-01", 1)]


async def test_filters_ratios_sums_and_averages(api, other_api, insert_leads):
    await insert_leads(api.org_id)
    await insert_leads(other_api.org_id, OTHER_LEADS)

    web = await api.get(metrics_url("crm.leads", filters=json.dumps({"source": "web"})))
    assert web["rows"][0]["value"] == sum(1 for *_, source, _ in LEADS if source == "web")
    some = await api.get(metrics_url("crm.leads", filters=json.dumps({"status": ["new", "lost"]})))
    assert some["rows"][0]["value"] == 3

    rate = await api.get(metrics_url("crm.conversion_rate", granularity="month", groupBy="source",
                                     **{"from": "2024-01-01", "to": "2024-03-31"}))
    got = {(row["period"], row["source"]): row["value"] for row in rate["rows"]}
    totals, converted = Counter(), Counter()
    for created, status, source, _ in LEADS:
        totals[(month(created), source)] += 1
        converted[(month(created), source)] += status == "converted"
    assert got == {key: converted[key] / totals[key] for key in totals}
    overall = await api.get(metrics_url("crm.conversion_rate"))
    assert overall["rows"][0]["value"] == pytest.approx(2 / 6) and overall["format"] == "percent"
    assert (await other_api.get(metrics_url("crm.conversion_rate")))["rows"][0]["value"] == 1.0

    pipeline = await api.get(metrics_url("crm.pipeline_value", granularity="month",
                                         **{"from": "2024-01-01", "to": "2024-03-31"}))
    open_value = defaultdict(float, {month(c): 0.0 for c, *_ in LEADS})
    for created, status, _, value in LEADS:
        if status not in ("converted", "lost"):
            open_value[month(created)] += value
    assert {row["period"]: row["value"] for row in pipeline["rows"]} == open_value
    average = await api.get(metrics_url("crm.average_lead_value", groupBy="source"))
    values = defaultdict(list)
    for *_, source, value in LEADS:
        values[source].append(value)
    assert {row["source"]: row["value"] for row in average["rows"]} == {
        source: pytest.approx(sum(v) / len(v)) for source, v in values.items()}


async def test_an_empty_organization_gets_zeros_not_errors(api):
    body = await api.get(metrics_url("crm.leads"))
    assert body["rows"] == [{"period": None, "value": 0}]
    rate = await api.get(metrics_url("crm.conversion_rate"))
    assert rate["rows"] == [{"period": None, "value": None}]  # 0 / 0 is no rate


async def test_the_catalogue_and_the_projects(api, other_api):
    catalogue = await api.get("/analytics/api/v1/metrics")
    ids = {metric["id"] for metric in catalogue["metrics"]}
    assert {"crm.leads", "crm.conversion_rate", "crm.pipeline_value", "crm.messages",
            "recommender.recommendations_served", "recommender.click_through_rate", "llm.tokens", "llm.agent_runs",
            "llm.agent_success_rate", "workflows.executions", "workflows.failure_rate", "billing.mrr",
            "billing.subscriptions", "support.tickets", "support.sla_breaches"} <= ids
    leads = next(metric for metric in catalogue["metrics"] if metric["id"] == "crm.leads")
    assert leads["granularities"] == ["day", "week", "month"] and leads["aggregate"] == "count"
    assert {d["name"] for d in leads["dimensions"]} == {"status", "source"}
    assert catalogue["total"] == len(catalogue["metrics"])

    mine = (await api.get("/analytics/api/v1/projects"))["projects"]
    theirs = (await other_api.get("/analytics/api/v1/projects"))["projects"]
    assert len(mine) == 1 and mine[0]["organizationUuid"] == api.org_id and "crm" in mine[0]["explores"]
    assert mine[0]["projectUuid"] != theirs[0]["projectUuid"]
    assert (await api.get("/analytics/api/v1/projects"))["projects"] == mine  # stable
    # another organization's project is not found, in the seed routes as in Lightdash's
    await api.error("GET", f"/analytics/api/v1/metrics?projectUuid={theirs[0]['projectUuid']}", status=404,
                    code="NOT_FOUND")


@pytest.mark.parametrize("params, field", [
    ({"metric": "crm.nope"}, "metric"),
    ({"metric": "crm.leads", "groupBy": "owner_id"}, "groupBy"),
    ({"metric": "crm.leads", "filters": json.dumps({"email": "x"})}, "filters"),
    ({"metric": "crm.leads", "from": "2024-03-01", "to": "2024-02-01"}, "from"),
    ({"metric": "crm.leads", "granularity": "hour"}, "granularity"),
    ({"metric": "crm.leads", "granularity": "year"}, "granularity"),
    ({"metric": "crm.leads", "from": "yesterday"}, "from"),
    ({"metric": "crm.leads", "filters": "[1]"}, "filters"),
    ({"metric": "crm.leads", "filters": json.dumps({"status": {"$ne": 1}})}, "filters"),
    ({"metric": "crm.leads", "groupBy": "status,status"}, "groupBy"),
    ({"metric": "crm.leads", "sql": "select 1"}, "sql"),
    ({"granularity": "month"}, "metric"),
    ({"metric": "recommender.click_through_rate", "groupBy": "interaction_type"}, "groupBy"),
])
async def test_bad_input_is_a_400_naming_the_parameter(module_api, params, field):
    from urllib.parse import urlencode

    await module_api.error("GET", "/analytics/api/v1/metrics?" + urlencode(params), status=400,
                           code="VALIDATION_ERROR", field=field)


async def test_hook_hub_metrics_only_registered_identifiers_and_disabled_plugins_drop_out(tmp_path):
    from core.app import create_app
    from core.testing import test_settings

    hub = create_app(test_settings(tmp_path, plugins={"disabled": ["crm", "support"]})).extensions["hub"]
    assert hub.metrics and not any(m.plugin in ("crm", "support") for m in hub.metrics.values())
    assert "workflows.failure_rate" in hub.metrics and "billing.mrr" in hub.metrics

    # a metric naming a field its model does not have stops start-up, naming plugin and hook
    from core.kernel.plugins import PluginError
    from core.testing import plugin_module
    from plugins.crm.models import Lead

    def bad(register):
        register("leads_by_owner", "Leads", model=Lead, dimensions={"owner; drop table x": "Owner"})

    with pytest.raises(PluginError, match="hook hub_metrics.*not a field"):
        create_app(test_settings(tmp_path / "b"), [plugin_module("badmetrics", hub_metrics=bad)])


async def test_metrics_of_a_plugin_switched_off_for_the_organization_are_gone(api, other_api):
    await api.put("/api/v1/plugins/crm", {"enabled": False})
    try:
        ids = {metric["id"] for metric in (await api.get("/analytics/api/v1/metrics"))["metrics"]}
        assert not any(metric_id.startswith("crm.") for metric_id in ids) and "support.tickets" in ids
        await api.error("GET", metrics_url("crm.leads"), status=400, code="VALIDATION_ERROR", field="metric")
        project = (await api.get("/analytics/api/v1/projects"))["projects"][0]
        assert "crm" not in project["explores"]
        # the other organization still has them
        assert (await other_api.get(metrics_url("crm.leads")))["rows"][0]["value"] == 0
    finally:
        await api.put("/api/v1/plugins/crm", {"enabled": True})


async def test_viewers_read_and_strangers_do_not(api, api_of, hub_client):
    viewer = await api_of(role="viewer")
    await viewer.get(metrics_url("crm.leads"))
    response = await hub_client.get("/analytics/api/v1/metrics")
    assert response.status_code == 401
