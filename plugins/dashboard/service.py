"""What the pages need besides HTTP: the menu (by role and plugin switches), the in-process client
of the Hub's own API, and the overview's charts (analytics metrics through hub functions).

Every read and write goes through the Hub's JSON API, called in-process over ASGI with the
session's own access token: the API's permission checks, tenancy, validation, plugin switches,
rate limits and metering apply exactly as for any client, and the dashboard keeps no data and
imports no other plugin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from quart import current_app

from core import BrowserSession, HubError, call_function, current_hub, utcnow


@dataclass(frozen=True)
class Entry:
    endpoint: str  # the view's name in the blueprint
    label: str
    plugin: str | None  # None: the core's, always on
    permission: str
    section: str = "Work"


MENU = [
    Entry("overview", "Overview", None, "profile.read"),
    Entry("leads", "Leads", "crm", "crm.leads.read"),
    Entry("contacts", "Contacts", "crm", "crm.contacts.read"),
    Entry("conversations", "Conversations", "crm", "crm.messages.read"),
    Entry("workflows", "Workflows", "workflows", "workflows.read"),
    Entry("tickets", "Tickets", "support", "support.read"),
    Entry("notifications", "Notifications", "notifications", "notifications.read"),
    Entry("recommender", "Recommender", "recommender", "recommender.models.read"),
    Entry("playground", "LLM playground", "llm", "llm.chat"),
    Entry("members", "Members", None, "members.read", "Admin"),
    Entry("keys", "API keys", None, "keys.manage", "Admin"),
    Entry("plugins", "Plugins", None, "plugins.manage", "Admin"),
    Entry("webhooks", "Webhooks", None, "webhooks.manage", "Admin"),
    Entry("billing", "Billing plan", "billing", "billing.read", "Admin"),
]
ENTRIES = {entry.endpoint: entry for entry in MENU}


async def enabled_plugins(org_id: Any) -> set[str]:
    """The plugins loaded in this process and on for the organization."""
    hub = current_hub()
    disabled = await hub.disabled_for_org(org_id)
    return {name for name in hub.plugins if name not in disabled}


async def menu(session: BrowserSession) -> list[Entry]:
    """The pages this member may open: their plugin on for the organization, their permission held.
    The overview stays (without charts when analytics is off)."""
    enabled = await enabled_plugins(session.principal.org_id)
    return [entry for entry in MENU
            if (entry.plugin is None or entry.plugin in enabled) and session.principal.can(entry.permission)]


class HubApi:
    """The Hub's own HTTP API, called in-process (ASGI) with the session's access token."""

    def __init__(self, session: BrowserSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> tuple[int, Any]:
        """`path` names an API route; ids put into it come from the page's URL, so a segment that
        would climb (`..`) or a query or escape smuggled into one is refused (404) before any call."""
        if any(part in (".", "..") for part in path.split("/")) or any(c in path for c in "?#\\%"):
            raise HubError("NOT_FOUND", "There is no such page.")
        app = current_app._get_current_object()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.internal", timeout=None) as client:
            response = await client.request(method, path, json=json, params=params,
                                            headers={"Authorization": f"Bearer {self.session.access_token}"})
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"error": {"message": response.text[:500]}}

    async def get(self, path: str, **params: Any) -> Any:
        """The body of a successful GET; a HubError with the API's own code otherwise."""
        status, body = await self.call("GET", path, params=params)
        if status >= 400:
            raise api_error(status, body)
        return body


def api_error(status: int, body: Any) -> HubError:
    """An API answer of `status` as a HubError of the same status (shown as an error page)."""
    code = "NOT_FOUND" if status == 404 else "FORBIDDEN" if status == 403 else "VALIDATION_ERROR"
    return HubError(code, error_message(status, body), status=status)


def error_message(status: int, body: Any) -> str:
    """One line for a flash message from an API error body (the Hub's envelope or OpenAI's)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = error.get("message") or ""
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        if details.get("field"):
            message = f"{message} ({details['field']}: {details.get('reason', '')})"
        return f"{status}: {message}" if message else f"The Hub answered {status}"
    return f"The Hub answered {status}"


def rows_of(body: Any) -> list[dict]:
    """The rows of a list answer, whatever the seed names them (`leads`, `data`, `items`...)."""
    if isinstance(body, list):
        return [row for row in body if isinstance(row, dict)]
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list) and (not value or isinstance(value[0], dict)):
                return value
    return []


# -- the overview: analytics metrics -----------------------------------------------------------------


async def overview_charts(session: BrowserSession, wanted: list[str], count: int, days: int) -> list[dict]:
    """Charts of analytics metrics by day over the last `days` days, through the analytics
    plugin's hub functions `list_metrics` and `query_metric` (with the member's rights); none
    when analytics is off for the organization or the member may not read it."""
    hub = current_hub()
    principal = session.principal
    if "analytics" not in await enabled_plugins(principal.org_id) or "list_metrics" not in hub.functions:
        return []
    try:
        catalogue = await call_function(hub, principal, "list_metrics", {})
    except HubError:
        return []
    metrics = catalogue.get("metrics", []) if isinstance(catalogue, dict) else catalogue
    # a metric over time, by day: `id` (e.g. "crm.leads") names it to query_metric
    metrics = [dict(m, name=m.get("id") or m.get("name")) for m in (metrics or [])
               if isinstance(m, dict) and (m.get("id") or m.get("name")) and m.get("time", True)
               and "day" in m.get("granularities", ["day"])]
    by_name = {m["name"]: m for m in metrics}
    chosen = [by_name[name] for name in wanted if name in by_name] if wanted else metrics[:count]
    today = utcnow().date()
    start = today - timedelta(days=days - 1)
    charts = []
    for metric in chosen:
        try:
            result = await call_function(hub, principal, "query_metric", {
                "metric": metric["name"], "from": start.isoformat(), "to": today.isoformat(),
                "granularity": "day", "group_by": [], "filters": {}})
        except HubError as error:
            charts.append({"name": metric["name"], "label": metric.get("label") or metric["name"],
                           "error": error.message, "days": [], "values": [], "total": None})
            continue
        charts.append(_series(metric, result.get("rows", []) if isinstance(result, dict) else [], start, days))
    return charts


def _series(metric: dict, rows: list[dict], start: date, days: int) -> dict:
    """One value per day (missing days are 0), x as unix seconds for uPlot."""
    values: dict[str, float] = {}
    for row in rows:
        period = str(row.get("period", ""))[:10]
        try:
            values[period] = values.get(period, 0.0) + float(row.get("value") or 0)
        except (TypeError, ValueError):
            continue
    xs, ys = [], []
    for offset in range(days):
        day = start + timedelta(days=offset)
        xs.append((day - date(1970, 1, 1)).days * 86400)
        ys.append(values.get(day.isoformat(), 0.0))
    return {"name": metric["name"], "label": metric.get("label") or metric["name"],
            "description": metric.get("description") or "", "days": xs, "values": ys,
            "total": sum(ys), "error": None}
