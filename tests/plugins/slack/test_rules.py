"""Rules: events posted to Slack (`lead.created` → #sales) with a template, once per event, with
values escaped for Slack; the rules API (CRUD, who may, another organization's ids, bad input);
the template sandbox; and retries of a passing failure."""

from __future__ import annotations

from core import Event
from tests.plugins.slack.conftest import bot_connection, posted, webhook_connection

RULES = "/api/v1/slack/rules"
TEMPLATE = "New lead: *{{ data.name }}* ({{ data.email }}) from {{ data.source }}"


def rule(**fields) -> dict:
    return {"name": "Leads to sales", "event_type": "lead.created", "channel": "#sales", "template": TEMPLATE,
            **fields}


async def rule_posts(api, rule_id: str) -> list[dict]:
    """The rule's posts, each once its job has finished."""
    listed = (await api.get(f"/api/v1/slack/messages?rule_id={rule_id}"))["messages"]
    return [await posted(api, post) for post in listed]


async def test_a_new_lead_is_posted_to_the_rules_channel(bot_api, fake_slack, events):
    created = await bot_api.call("POST", RULES, rule(), status=201)
    assert created["enabled"] and created["channel"] == "#sales" and created["last_posted_at"] is None
    lead = await bot_api.lead(name="Ada <!channel> & Co", email="ada@example.com", source="website")
    [post] = await rule_posts(bot_api, created["id"])
    assert post["status"] == "sent" and post["source"] == "rule" and post["slack_ts"]
    # the event's values are escaped: no mention, no link can come from a lead's name
    expected = "New lead: *Ada &lt;!channel&gt; &amp; Co* (ada@example.com) from website"
    assert post["text"] == expected and fake_slack.posts == [
        {"via": "api", "channel": "C0SALES", "text": expected, "ts": post["slack_ts"]}]
    assert (await bot_api.get(f"{RULES}/{created['id']}"))["last_posted_at"] is not None
    posted_event = await events.wait_for(bot_api.org_id, "slack.message.posted")
    assert posted_event.data["rule_id"] == created["id"] and lead["id"] in str(
        next(e for e in events.of(bot_api.org_id, "lead.created")).data)
    assert (await bot_api.get("/api/integrations/slack"))["lastSync"] is not None


async def test_an_event_delivered_twice_posts_once(bot_api, fake_slack, hub, hub_app):
    created = await bot_api.call("POST", RULES, rule(template="{{ data.name }}"), status=201)
    event = Event("lead.created", bot_api.org_id, {"id": "lead-1", "name": "Twice", "source": "api",
                                                   "status": "new", "value": 0})
    from plugins.integrations.slack import service

    async with hub_app.app_context():
        await service.on_event(hub, event)
        await service.on_event(hub, event)  # at-least-once delivery: the same event again
    [post] = await rule_posts(bot_api, created["id"])
    assert post["event_id"] == event.id and fake_slack.texts() == ["Twice"]


async def test_disabled_rules_other_events_and_a_disconnected_slack_post_nothing(bot_api, fake_slack):
    off = await bot_api.call("POST", RULES, rule(enabled=False), status=201)
    other = await bot_api.call("POST", RULES, rule(event_type="lead.deleted"), status=201)
    await bot_api.lead()
    assert await rule_posts(bot_api, off["id"]) == [] and await rule_posts(bot_api, other["id"]) == []
    on = await bot_api.call("PUT", f"{RULES}/{off['id']}", {"enabled": True})
    assert on["enabled"]
    await bot_api.call("POST", "/api/integrations/slack/disconnect", {})
    await bot_api.lead()
    assert await rule_posts(bot_api, on["id"]) == [] and fake_slack.posts == []


async def test_a_webhook_posts_to_its_own_channel(webhook_api, fake_slack):
    created = await webhook_api.call("POST", RULES, rule(channel=None, template="Lead {{ data.name }}"), status=201)
    await webhook_api.lead(name="Grace")
    [post] = await rule_posts(webhook_api, created["id"])
    assert post["status"] == "sent" and fake_slack.posts == [{"via": "webhook", "channel": None, "text": "Lead Grace"}]


async def test_a_passing_failure_is_retried_until_it_is_posted(bot_api, fake_slack):
    created = await bot_api.call("POST", RULES, rule(template="{{ data.name }}"), status=201)
    fake_slack.failures.extend([500, 429])  # Slack's internal_error, then ratelimited
    await bot_api.lead(name="Patient")
    [post] = await rule_posts(bot_api, created["id"])
    assert post["status"] == "sent" and post["attempts"] == 3 and post["error"] is None
    assert fake_slack.texts("C0SALES") == ["Patient"]
    assert (await bot_api.get("/api/integrations/slack"))["status"] == "connected"


async def test_an_unknown_channel_fails_the_post_without_retrying(bot_api, fake_slack):
    created = await bot_api.call("POST", RULES, rule(channel="#nowhere"), status=201)
    await bot_api.lead()
    [post] = await rule_posts(bot_api, created["id"])
    assert post["status"] == "failed" and post["attempts"] == 1 and "channel_not_found" in post["error"]
    # the channel is the rule's problem, not the connection's
    assert (await bot_api.get("/api/integrations/slack"))["status"] == "connected"


async def test_the_rules_api(bot_api, other_api, api_of, assert_isolated):
    first = await bot_api.call("POST", RULES, rule(name="B rule"), status=201)
    second = await bot_api.call("POST", RULES, rule(name="A rule", event_type="lead.updated", channel=None), status=201)
    listed = await bot_api.get(RULES)
    assert listed["total"] == 2 and [r["id"] for r in listed["rules"]] == [second["id"], first["id"]]
    changed = await bot_api.call("PUT", f"{RULES}/{first['id']}", {"channel": None, "template": "{{ data.id }}"})
    assert changed["channel"] is None and changed["template"] == "{{ data.id }}" and changed["name"] == "B rule"
    preview = await bot_api.call("POST", f"{RULES}/{first['id']}/preview", {"data": {"id": "lead <1>"}})
    assert preview == {"text": "lead &lt;1&gt;", "channel": None}
    await assert_isolated(bot_api, other_api, f"{RULES}/{first['id']}", body={"enabled": False})
    await other_api.error("POST", f"{RULES}/{first['id']}/preview", {"data": {}}, status=404, code="NOT_FOUND")
    assert (await other_api.get(RULES))["total"] == 0
    # members read and post, developers and admins manage rules; viewers only read
    member, viewer = await api_of(role="member"), await api_of(role="viewer")
    assert (await member.get(RULES))["total"] == 2 and (await viewer.get(RULES))["total"] == 2
    await member.error("POST", RULES, rule(), status=403, code="FORBIDDEN")
    await viewer.error("DELETE", f"{RULES}/{first['id']}", status=403, code="FORBIDDEN")
    await viewer.error("POST", "/api/v1/slack/messages", {"text": "hi"}, status=403, code="FORBIDDEN")
    developer = await api_of(role="developer")
    await developer.call("DELETE", f"{RULES}/{first['id']}", status=204)
    await bot_api.error("GET", f"{RULES}/{first['id']}", status=404, code="NOT_FOUND")


async def test_bad_rules_are_refused_naming_the_field(api):
    await api.error("POST", RULES, rule(event_type="no.such_thing"), field="event_type")
    await api.error("POST", RULES, rule(event_type="slack.message.posted"), field="event_type")  # a loop
    await api.error("POST", RULES, rule(template="{{ data.name "), field="template")
    await api.error("POST", RULES, rule(template=""), field="template")
    await api.error("POST", RULES, rule(channel="#two words"), field="channel")
    await api.error("POST", RULES, {**rule(), "org_id": "00000000-0000-0000-0000-000000000000"})
    created = await api.call("POST", RULES, rule(), status=201)
    await api.error("PUT", f"{RULES}/{created['id']}", {"template": None}, field="template")
    await api.error("PUT", f"{RULES}/{created['id']}", {"event_type": "nope.made_up"}, field="event_type")


async def test_a_rule_forwards_only_events_its_author_may_read(api, api_of):
    """A rule sends the events' data to Slack: its author needs the event's own permission."""
    key = await api_of(api.account, key=["slack.manage"])  # may manage rules, may not read leads
    body = await key.error("POST", RULES, rule(), status=403, code="FORBIDDEN")
    assert body["details"]["permission"] == "crm.leads.read"


async def test_templates_cannot_reach_python_internals(bot_api, fake_slack):
    sneaky = ("{{ ''.__class__.__mro__ }}{{ data.__class__ }}{{ data.items.__globals__ }}"
              "{{ event.type }}:{{ data.missing.deeper }}.")
    created = await bot_api.call("POST", RULES, rule(template=sneaky), status=201)
    preview = await bot_api.call("POST", f"{RULES}/{created['id']}/preview", {"data": {"a": 1}})
    assert preview["text"] == "lead.created:." and "class" not in preview["text"]
    mutating = await bot_api.call("POST", RULES, rule(template="{{ data.update({'x': 1}) }}"), status=201)
    await bot_api.error("POST", f"{RULES}/{mutating['id']}/preview", {"data": {}}, field="template")
    await bot_api.lead()  # the unsafe one leaves a failed post, the other posts
    [failed] = await rule_posts(bot_api, mutating["id"])
    assert failed["status"] == "failed" and "template" in failed["error"]
    [sent] = await rule_posts(bot_api, created["id"])
    assert sent["status"] == "sent"
    assert fake_slack.texts("C0SALES") == ["lead.created:."]


async def test_connecting_again_replaces_the_mode(bot_api, fake_slack):
    await bot_api.call("POST", "/api/integrations/slack/connect", webhook_connection(fake_slack.webhook_url))
    post = await bot_api.call("POST", "/api/v1/slack/messages", {"text": "via the webhook", "channel": "#sales"},
                              status=202)
    assert (await posted(bot_api, post))["status"] == "sent"
    await bot_api.call("POST", "/api/integrations/slack/connect", bot_connection(channel=None))
    # a bot without a default channel needs one per post
    await bot_api.error("POST", "/api/v1/slack/messages", {"text": "where?"}, field="channel")
    assert fake_slack.posts == [{"via": "webhook", "channel": None, "text": "via the webhook"}]
