"""The LLM playground chatting with the real local model (SmolLM2-135M, the one the LLM plugin's
tests use, fetched once into ~/.cache/the-hub/models or $HUB_TEST_MODEL_DIR and linked into the
test Hub's `<data_dir>/models`, where the plugin looks by default), in process, without a browser:
a Hub function offered as a tool, the model made to call it by name (tool_choice naming the
function, so a tiny model calls it every time), the call, its result and the model's answer on the
rendered page, and the function's effect in the CRM."""

from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.plugins.dashboard.test_sessions import csrf_of, sign_in

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

from fetch_model import MODEL_FILE, fetch_model

TOOL_TURN = re.compile(r'<li class="tool"><span class="meta">tool call</span> <code>(.*?)</code><pre>(.*?)</pre></li>',
                       re.DOTALL)


@pytest.fixture(scope="module")
def model_path(settings) -> Path:
    """As tests/plugins/ml/llm/conftest.py: the cached model, linked where the plugin looks."""
    cache = Path(os.environ.get("HUB_TEST_MODEL_DIR") or Path.home() / ".cache" / "the-hub" / "models")
    path = fetch_model(cache)
    linked = Path(settings.data_dir) / "models" / MODEL_FILE
    if not linked.exists():
        linked.parent.mkdir(parents=True, exist_ok=True)
        linked.symlink_to(path)
    return path


async def test_playground_calls_a_named_function_and_shows_call_and_result(hub_app, admin, api, model_path):
    client = hub_app.test_client()
    await sign_in(client, admin.email)
    page = await (await client.get("/dashboard/playground")).get_data(as_text=True)
    # every function of the member is offered, and each can be named as the one to call
    assert '<option value="create_lead">create_lead</option>' in page
    assert page.count('<option value="create_lead"') == 2 and '<option value="required"' in page

    response = await client.post("/dashboard/playground", form={
        "csrf_token": csrf_of(page), "prompt": "Add Jane Doe from Acme Corp (jane@acme.com) as a new lead.",
        "tools": "create_lead", "tool_choice": "create_lead"})
    page = await response.get_data(as_text=True)
    assert response.status_code == 200, page[-3000:]
    assert 'id="error"' not in page

    # the call and its result, as the page shows them
    [(call, result)] = TOOL_TURN.findall(page)
    name, _, arguments = html.unescape(call).partition("(")
    assert name == "create_lead"
    arguments = json.loads(arguments[:-1])
    assert isinstance(arguments["name"], str) and arguments["name"]
    lead = json.loads(html.unescape(result))
    assert lead["name"] == arguments["name"] and lead["id"]
    # the function really ran, as the signed-in member, in the member's organization
    leads = await api.get("/api/leads")
    assert [row["id"] for row in leads["leads"]] == [lead["id"]]
    # then the model answered (told not to call again after a forced call)
    turns = re.findall(r'<li class="(user|tool|assistant)">', page)
    assert turns == ["user", "tool", "assistant"]
    # the form keeps the member's choices
    assert '<option value="create_lead" selected>create_lead</option>' in page
