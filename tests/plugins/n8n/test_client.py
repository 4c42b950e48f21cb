"""Real n8n API clients from PyPI, unchanged, against a live `hub serve`: `n8n-client` (sync; it
sends `X-N8N-API-KEY` to `{base}/api/v1`, raises on any non-2xx and reads n8n's
`{data, nextCursor}`) and `n8n-sdk-python` (async; every answer parsed into strict pydantic
models of n8n's shapes). n8n's own test workflow (tests/plugins/n8n/data) goes in, is activated,
runs from its webhook URL, and its execution reads back."""

from __future__ import annotations

import httpx
import pytest
from n8n_client import N8nClient
from n8n_sdk_python import N8nClient as AsyncN8nClient

from core.testing import WAIT_SECONDS
from tests.live_server import live_account, live_hub
from tests.plugins.n8n.conftest import n8n_sample

HOOK = "b0d79ddb-df2d-49b1-8555-9fa2b482608f"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with live_hub(tmp_path_factory.mktemp("n8n-live"), env={"HUB_RATE_LIMITS__ENABLED": "false"}) as served:
        yield served


def test_an_n8n_client_works_unchanged(hub):
    account = live_account(hub.url, scopes=["workflows.*"])
    client = N8nClient(api_key=account["api_key"], base_url=f"{hub.url}/n8n")

    created = client.create_workflow(n8n_sample())
    assert created["active"] is False and created["name"] == "PinData Test"
    page = client.get_workflows(limit=100)
    assert [w["id"] for w in page.data] == [created["id"]] and page.next_cursor is None
    assert client.get_workflow(created["id"], exclude_pinned_data=True)["nodes"] == n8n_sample()["nodes"]

    # n8n's own webhook URL runs it, before (404) and after activation
    assert httpx.get(f"{hub.url}/n8n/webhook/{HOOK}").status_code == 404
    assert client.activate_workflow(created["id"])["active"] is True
    answer = httpx.get(f"{hub.url}/n8n/webhook/{HOOK}", timeout=WAIT_SECONDS)
    assert answer.status_code == 200 and answer.json() == {"nodeData": "pin"}

    executions = client.get_executions(workflow_id=created["id"], limit=10)
    assert len(executions.data) == 1 and executions.data[0]["status"] == "success"
    execution = client.get_execution(executions.data[0]["id"], include_data=True)
    assert execution["mode"] == "webhook" and execution["data"]["resultData"]["lastNodeExecuted"] == "End"

    renamed = client.update_workflow(created["id"], {**n8n_sample(), "name": "Renamed"})
    assert renamed["name"] == "Renamed" and renamed["active"] is True  # still listening
    assert httpx.get(f"{hub.url}/n8n/webhook/{HOOK}", timeout=WAIT_SECONDS).json() == {"nodeData": "pin"}
    everything = client.get_all_pages(client.get_executions, workflow_id=created["id"], limit=1)
    assert len(everything) == 2  # followed nextCursor from page to page

    assert client.deactivate_workflow(created["id"])["active"] is False
    client.delete_execution(executions.data[0]["id"])
    assert client.delete_workflow(created["id"])["id"] == created["id"]
    with pytest.raises(httpx.HTTPStatusError) as missing:
        client.get_workflow(created["id"])
    assert missing.value.response.status_code == 404 and missing.value.response.json() == {"message": "Not Found"}


def test_the_client_sees_n8n_errors(hub):
    account = live_account(hub.url, scopes=["workflows.read"])
    reader = N8nClient(api_key=account["api_key"], base_url=f"{hub.url}/n8n")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        reader.create_workflow(n8n_sample())
    assert refused.value.response.status_code == 403
    stranger = N8nClient(api_key="hub_" + "x" * 40, base_url=f"{hub.url}/n8n")
    with pytest.raises(httpx.HTTPStatusError) as unauthorized:
        stranger.get_workflows()
    assert unauthorized.value.response.json() == {"message": "unauthorized"}
    readiness = httpx.get(f"{hub.url}/n8n/healthz/readiness")
    assert readiness.status_code == 200 and readiness.json() == {"status": "ok"}


async def test_a_typed_async_n8n_client_works_unchanged(hub):
    account = live_account(hub.url, scopes=["workflows.*"])
    client = AsyncN8nClient(base_url=f"{hub.url}/n8n", api_key=account["api_key"])
    sample = n8n_sample()
    created = await client.create_workflow(name=sample["name"], nodes=sample["nodes"],
                                           connections=sample["connections"], settings=sample["settings"])
    assert created.active is False and isinstance(created.id, str)
    assert [w.id for w in (await client.list_workflows()).data] == [created.id]
    assert len((await client.get_workflow(created.id)).nodes) == 5
    assert (await client.activate_workflow(created.id)).active is True
    async with httpx.AsyncClient(timeout=WAIT_SECONDS) as http:
        answer = await http.get(f"{hub.url}/n8n/webhook/{HOOK}")
    assert answer.json() == {"nodeData": "pin"}
    executions = (await client.list_executions(workflow_id=created.id)).data
    assert [(e.finished, e.mode) for e in executions] == [(True, "webhook")]
    execution = await client.get_execution(executions[0].id, include_data=True)
    assert execution.workflowId == created.id and execution.startedAt is not None
    assert (await client.deactivate_workflow(created.id)).active is False
    assert (await client.delete_workflow(created.id)).id == created.id
