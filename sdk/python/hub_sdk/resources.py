"""The hand-written layer over the generated models (hub_sdk.models): one object per API area,
with seed 004's names (`client.leads.get_all(status="new", limit=10)`, `client.leads.create({...})`,
`client.agents.execute(agent_id, {...})`).

A resource's methods are shared by both clients: on `HubClient` they return the result, on
`AsyncHubClient` an awaitable of it (and `iterate` an async iterator). Bodies may be dicts in
the API's own field names or models of hub_sdk.models; results are models of hub_sdk.models.
Anything without a method here is reachable as `client.get/post/put/patch/delete(path, ...)`
and `client.paginate(path, key, params)`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hub_sdk import models


def _id(value: Any) -> str:
    return quote(str(value), safe="")


class Resource:
    def __init__(self, client: Any) -> None:
        self._client = client

    def _call(self, method: str, path: str, model: Any = None, *, params: dict | None = None, json: Any = None):
        return self._client.request(method, path, params=params, json=json, model=model)


class Leads(Resource):
    """CRM leads (`/api/leads`, seed 004)."""

    def get_all(self, **filters: Any):
        """One page: `status`, `source`, `companyId`, `search`, `sort`, `order`, `limit`, `offset`."""
        return self._call("GET", "/api/leads", models.LeadList, params=filters)

    list = get_all

    def iterate(self, **filters: Any):
        """Every lead matching the filters, page after page (`limit` a page)."""
        return self._client.paginate("/api/leads", "leads", filters, models.LeadOut)

    def get(self, lead_id: Any):
        return self._call("GET", f"/api/leads/{_id(lead_id)}", models.LeadOut)

    def create(self, data: dict[str, Any] | models.LeadCreate):
        return self._call("POST", "/api/leads", models.LeadOut, json=data)

    def update(self, lead_id: Any, data: dict[str, Any] | models.LeadUpdate):
        return self._call("PUT", f"/api/leads/{_id(lead_id)}", models.LeadOut, json=data)

    def delete(self, lead_id: Any):
        return self._call("DELETE", f"/api/leads/{_id(lead_id)}")


class Contacts(Resource):
    """CRM contacts (`/api/contacts`)."""

    def get_all(self, **filters: Any):
        return self._call("GET", "/api/contacts", models.ContactList, params=filters)

    list = get_all

    def iterate(self, **filters: Any):
        return self._client.paginate("/api/contacts", "contacts", filters, models.ContactOut)

    def get(self, contact_id: Any):
        return self._call("GET", f"/api/contacts/{_id(contact_id)}", models.ContactOut)

    def create(self, data: dict[str, Any] | models.ContactCreate):
        return self._call("POST", "/api/contacts", models.ContactOut, json=data)

    def update(self, contact_id: Any, data: dict[str, Any] | models.ContactUpdate):
        return self._call("PUT", f"/api/contacts/{_id(contact_id)}", models.ContactOut, json=data)

    def delete(self, contact_id: Any):
        return self._call("DELETE", f"/api/contacts/{_id(contact_id)}")


def execute_body(data: dict[str, Any] | str) -> dict[str, Any]:
    """Seed 004's `{"input": "Qualify this lead", "context": {"lead_id": ...}}` (or a bare
    message) as the Hub's `{"input": {"message", "leadId", "context"}}`; the Hub's own shape
    passes unchanged."""
    if isinstance(data, str):
        data = {"input": data}
    if isinstance(data.get("input"), dict):
        return data
    context = dict(data.get("context") or {})
    body: dict[str, Any] = {"message": data.get("input") or data.get("message")}
    lead_id = data.get("leadId") or data.get("lead_id") or context.get("leadId") or context.get("lead_id")
    if lead_id:
        body["leadId"] = str(lead_id)
    if context:
        body["context"] = context
    return {"input": body}


class Agents(Resource):
    """AI agents of the llm plugin (`/api/agents`, seed 004)."""

    def get_all(self, **filters: Any):
        return self._call("GET", "/api/agents", params=filters)

    list = get_all

    def get(self, agent_id: Any):
        return self._call("GET", f"/api/agents/{_id(agent_id)}")

    def create(self, data: dict[str, Any]):
        return self._call("POST", "/api/agents", json=data)

    def execute(self, agent_id: Any, data: dict[str, Any] | str):
        """Run the agent on a message: `{"input": "...", "context": {...}}` (seed 004)."""
        return self._call("POST", f"/api/agents/{_id(agent_id)}/execute", models.ExecuteResponse,
                          json=execute_body(data))


class Jobs(Resource):
    """Background jobs (`/api/v1/jobs`)."""

    def get(self, job_id: Any):
        return self._call("GET", f"/api/v1/jobs/{_id(job_id)}")

    def cancel(self, job_id: Any):
        return self._call("DELETE", f"/api/v1/jobs/{_id(job_id)}")


class Plugins(Resource):
    """The organization's plugins (`/api/v1/plugins`, admins)."""

    def get_all(self):
        return self._call("GET", "/api/v1/plugins")

    list = get_all

    def set_enabled(self, name: str, enabled: bool):
        return self._call("PUT", f"/api/v1/plugins/{_id(name)}", json={"enabled": enabled})
