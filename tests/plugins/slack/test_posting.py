"""Posting without a rule: the API, the hub function `slack_post_message` (what the notifications
plugin calls) and the workflow node `slack.post_message`; the posts' list; Slack not connected."""

from __future__ import annotations

from core.tenancy.functions import available_functions, call_function
from core.tenancy.principals import principal_from_credential
from tests.plugins.slack.conftest import posted
from tests.plugins.workflows.support import WorkflowApi, edge, node, steps_by_node, workflow

MESSAGES = "/api/v1/slack/messages"


async def test_posting_through_the_api_and_listing_the_posts(bot_api, fake_slack, other_api, assert_isolated):
    first = await bot_api.call("POST", MESSAGES, {"text": "to the default channel"}, status=202)
    assert first["status"] == "queued" and first["source"] == "api" and first["job_id"]
    second = await bot_api.call("POST", MESSAGES, {"text": "to sales", "channel": "#sales"}, status=202)
    failed = await bot_api.call("POST", MESSAGES, {"text": "lost", "channel": "#nowhere"}, status=202)
    done = [await posted(bot_api, post) for post in (first, second, failed)]
    assert [post["status"] for post in done] == ["sent", "sent", "failed"]
    assert done[0]["channel"] == "C0GENERAL"  # the integration's defaultChannel, as Slack names it
    assert fake_slack.texts("C0GENERAL") == ["to the default channel"] and fake_slack.texts("C0SALES") == ["to sales"]
    listed = await bot_api.get(MESSAGES)
    assert listed["total"] == 3 and [p["id"] for p in listed["messages"]] == [failed["id"], second["id"], first["id"]]
    assert [p["id"] for p in (await bot_api.get(f"{MESSAGES}?status=failed"))["messages"]] == [failed["id"]]
    await bot_api.error("GET", f"{MESSAGES}?status=lost", field="status")
    await assert_isolated(bot_api, other_api, f"{MESSAGES}/{first['id']}")
    assert (await other_api.get(MESSAGES))["total"] == 0


async def test_a_post_without_slack_connected_fails_in_its_job(api, fake_slack):
    queued = await api.call("POST", MESSAGES, {"text": "hello"}, status=202)
    done = await posted(api, queued)
    assert done["status"] == "failed" and "not connected" in done["error"] and fake_slack.posts == []
    await api.error("POST", MESSAGES, {"text": ""}, field="text")
    await api.error("POST", MESSAGES, {"text": "x", "extra": 1})


async def test_the_hub_function_posts_as_its_caller(bot_api, fake_slack, hub, hub_app):
    async with hub_app.app_context():
        principal = await principal_from_credential(bot_api.account.access_token)
        assert "slack_post_message" in {f.name for f in await available_functions(hub, principal)}
        queued = await call_function(hub, principal, "slack_post_message", {"text": "from a model", "channel": "#sales"})
    assert queued["status"] == "queued" and queued["source"] == "function"
    assert (await posted(bot_api, queued))["status"] == "sent" and fake_slack.texts("C0SALES") == ["from a model"]


async def test_the_workflow_node_posts_its_input(hub_client, bot_api, fake_slack):
    flows = WorkflowApi.of(hub_client, bot_api.account)
    created = await flows.create_workflow(workflow("Tell sales", [
        node("start", "webhook-trigger"), node("tell", "slack.post_message", {"channel": "#sales", "text": "A lead!"}),
    ], [edge("start", "tell")]))
    execution = await flows.run(created["id"], {})
    assert execution["status"] == "completed", execution
    queued = steps_by_node(execution)["tell"]["output_data"]["main"]
    assert queued["source"] == "workflow" and (await posted(bot_api, queued))["status"] == "sent"
    # the input's text wins over the node's
    execution = await flows.run(created["id"], {"text": "From the input"})
    assert (await posted(bot_api, steps_by_node(execution)["tell"]["output_data"]["main"]))["status"] == "sent"
    assert fake_slack.texts("C0SALES") == ["A lead!", "From the input"]
