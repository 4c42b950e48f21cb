"""Slack without HTTP: the organizations' rules (post a message to a channel for an event), queueing
a post (rules, the API, the hub function, the workflow node all come here), delivering it from
the `slack.post` job, and reacting to events.

A post goes through the organization's connection: with a bot token to its `channel` (else the
integration's `defaultChannel`) by `chat.postMessage`, with an incoming webhook to the webhook's
own channel. A passing failure (Slack unreachable, 429, 5xx) is retried by the job with back-off;
the last try, or a refusal, leaves the post `failed`. A refused token or webhook, and Slack still
unreachable after every try, mark the integration `error` (`integration_failed`: lastError,
`integration.error`)."""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError

from core import (
    HubError,
    conflict,
    emit,
    enqueue,
    integration_config,
    integration_credentials,
    integration_failed,
    integration_synced,
    transaction,
    utcnow,
    validation_error,
)
from plugins.integrations.slack import client, templates
from plugins.integrations.slack.integrations import INTEGRATION, PLUGIN, SlackCredentials, webhook_allowlist
from plugins.integrations.slack.models import SlackPost, SlackRule

log = logging.getLogger(__name__)

POST_JOB = "slack.post"
ERROR_LENGTH = 500


def settings(hub):
    return hub.plugin_settings(PLUGIN)


class RetryLater(Exception):
    """A passing failure with tries left: the job fails this attempt and is retried."""


# -- rules --------------------------------------------------------------------------------------------------


async def _check_event_type(hub, principal, event_type: str) -> None:
    """A rule's event: in the catalogue, of a plugin on for the organization, not one of Slack's
    own (a post announcing a post...), and one the rule's author may read (its permission)."""
    known = hub.bus.catalogue.types.get(event_type)
    if known is None or known.plugin in await hub.disabled_for_org(principal.org_id):
        raise validation_error("event_type", "not an event type of this Hub (GET /api/v1/events/types)")
    if known.plugin == PLUGIN:
        raise validation_error("event_type", "Slack's own events cannot post to Slack")
    if known.permission and not principal.can(known.permission):
        raise HubError("FORBIDDEN", "Insufficient permissions to forward this event",
                       {"field": "event_type", "permission": known.permission})


def _check_template(source: str) -> None:
    try:
        templates.check(source)
    except templates.TemplateProblem as problem:
        raise validation_error("template", str(problem)) from None


async def create_rule(hub, principal, fields: dict[str, Any]) -> SlackRule:
    await _check_event_type(hub, principal, fields["event_type"])
    _check_template(fields["template"])
    limit = settings(hub).max_rules
    if await SlackRule.for_org(principal.org_id).count() >= limit:
        raise conflict(f"An organization may have at most {limit} Slack rules", limit=limit)
    return await SlackRule.create(org_id=principal.org_id, created_by=principal.user_id, **fields)


async def get_rule(org_id: Any, rule_id: Any) -> SlackRule:
    return await SlackRule.get_for_org(org_id, rule_id, "Slack rule")


async def update_rule(hub, principal, rule_id: Any, changes: dict[str, Any]) -> SlackRule:
    rule = await get_rule(principal.org_id, rule_id)
    for required in ("name", "event_type", "template", "enabled"):
        if required in changes and changes[required] is None:
            raise validation_error(required, "may not be null")
    if "event_type" in changes:
        await _check_event_type(hub, principal, changes["event_type"])
    if "template" in changes:
        _check_template(changes["template"])
    for name, value in changes.items():
        setattr(rule, name, value)
    await rule.save()
    return rule


async def delete_rule(org_id: Any, rule_id: Any) -> None:
    rule = await get_rule(org_id, rule_id)
    await rule.delete()


def rule_body(rule: SlackRule) -> dict:
    return {"id": str(rule.id), "name": rule.name, "event_type": rule.event_type, "channel": rule.channel,
            "template": rule.template, "enabled": rule.enabled,
            "created_by": str(rule.created_by) if rule.created_by else None,
            "last_posted_at": rule.last_posted_at, "created_at": rule.created_at, "updated_at": rule.updated_at}


def event_context(event_type: str, event_id: str | None = None, timestamp: Any = None) -> dict[str, Any]:
    return {"type": event_type, "id": event_id, "timestamp": str(timestamp) if timestamp is not None else None}


def preview(rule: SlackRule, data: dict[str, Any]) -> dict:
    try:
        text = templates.render(rule.template, event_context(rule.event_type, "preview"), data)
    except templates.TemplateProblem as problem:
        raise validation_error("template", str(problem)) from None
    return {"text": text, "channel": rule.channel}


# -- posts ---------------------------------------------------------------------------------------------------


async def connection(org_id: Any) -> tuple[SlackCredentials | None, Any]:
    """The organization's Slack credentials and config, (None, None) when it is not connected."""
    config = await integration_config(str(org_id), INTEGRATION)
    if config is None:
        return None, None
    return await integration_credentials(str(org_id), INTEGRATION), config


async def queue_post(hub, org_id: Any, user_id: Any, text: str, channel: str | None, source: str) -> SlackPost:
    """A message to post, from the API, the hub function or a workflow node: queued (as the
    messaging plugin's sends are, a post while Slack is not connected is kept, and its job fails
    it: "Slack is not connected"); 400 when a connected bot has no channel to post to."""
    credentials, config = await connection(org_id)
    if credentials is not None and credentials.mode == "bot" and not (channel or config.default_channel):
        raise validation_error("channel", "required: the Slack integration has no defaultChannel")
    async with transaction():
        post = await SlackPost.create(org_id=org_id, source=source, channel=channel, text=text, created_by=user_id)
        await _enqueue(hub, post)
    return post


async def _enqueue(hub, post: SlackPost) -> None:
    job = await enqueue(post.org_id, POST_JOB, {"post_id": str(post.id)}, user_id=post.created_by,
                        max_attempts=settings(hub).post_attempts, hub=hub)
    post.job_id = job.id
    await post.save(update_fields=["job_id"])


async def get_post(org_id: Any, post_id: Any) -> SlackPost:
    return await SlackPost.get_for_org(org_id, post_id, "Slack message")


def posts_query(org_id: Any, status: str | None, rule_id: Any):
    query = SlackPost.for_org(org_id)
    if status:
        query = query.filter(status=status)
    if rule_id:
        query = query.filter(rule_id=rule_id)
    return query


def post_body(post: SlackPost) -> dict:
    return {"id": str(post.id), "source": post.source, "rule_id": str(post.rule_id) if post.rule_id else None,
            "event_id": post.event_id, "channel": post.channel, "text": post.text, "status": post.status,
            "error": post.error, "attempts": post.attempts, "slack_ts": post.slack_ts,
            "job_id": str(post.job_id) if post.job_id else None, "created_at": post.created_at,
            "sent_at": post.sent_at}


async def _announce(post: SlackPost, event_type: str) -> None:
    await emit(post.org_id, event_type, {"id": str(post.id), "source": post.source,
                                         "rule_id": str(post.rule_id) if post.rule_id else None,
                                         "channel": post.channel, "status": post.status, "error": post.error})


async def _fail(post: SlackPost, reason: str) -> None:
    post.status, post.error = "failed", reason[:ERROR_LENGTH]
    async with transaction():
        await post.save(update_fields=["status", "error", "attempts", "updated_at"])
        await _announce(post, "slack.message.failed")


async def deliver(hub, org_id: str, post_id: str, attempt: int, max_attempts: int) -> dict:
    """One try at a queued post (the job). RetryLater when a passing failure has tries left."""
    post = await SlackPost.get_or_none(org_id=org_id, id=post_id)
    if post is None or post.status != "queued":
        return {"status": post.status if post else "gone"}  # a repeated delivery of the job
    post.attempts = attempt
    credentials, config = await connection(org_id)
    if credentials is None:
        await _fail(post, "Slack is not connected (POST /api/integrations/slack/connect)")
        return {"status": "failed"}
    limits = settings(hub)
    try:
        if credentials.mode == "bot":
            channel = post.channel or config.default_channel
            if not channel:
                await _fail(post, "no channel: the post names none and the integration has no defaultChannel")
                return {"status": "failed"}
            answer = await client.post_with_token(credentials.bot_token.get_secret_value(), limits.api_base_url,
                                                  limits.timeout_seconds, channel, post.text)
        else:
            answer = await client.post_with_webhook(credentials.webhook_url.get_secret_value(),
                                                    webhook_allowlist(hub), limits.timeout_seconds, post.text)
    except client.SlackError as error:
        reason = str(error)[:ERROR_LENGTH]
        if error.transient and attempt < max_attempts:
            post.error = f"will retry: {reason}"[:ERROR_LENGTH]
            await post.save(update_fields=["error", "attempts", "updated_at"])
            raise RetryLater(reason) from None
        if error.refused or error.transient:  # turned down, or still unreachable after every try
            await integration_failed(org_id, INTEGRATION, reason)
        await _fail(post, reason)
        return {"status": "failed", "error": reason}
    post.status, post.error, post.sent_at = "sent", None, utcnow()
    post.slack_ts = answer.get("ts")
    if answer.get("channel") and not post.channel:
        post.channel = str(answer["channel"])[:81]
    async with transaction():
        await post.save(update_fields=["status", "error", "sent_at", "slack_ts", "channel", "attempts", "updated_at"])
        await _announce(post, "slack.message.posted")
        if post.rule_id:
            await SlackRule.filter(org_id=org_id, id=post.rule_id).update(last_posted_at=post.sent_at)
    await integration_synced(org_id, INTEGRATION)
    return {"status": "sent", "ts": post.slack_ts}


# -- events -----------------------------------------------------------------------------------------------


def _about_slack(event) -> bool:
    """Events Slack's own work causes: a rule on them would post about its own posts forever."""
    data = event.data if isinstance(event.data, dict) else {}
    return (event.type.startswith("slack.") or str(data.get("job_type", "")).startswith("slack.")
            or (event.type.startswith("integration.") and data.get("integration") == INTEGRATION))


async def on_event(hub, event) -> None:
    """Post for each enabled rule of the event's type, once per rule and event (events come at
    least once), when Slack is connected. A template that cannot render leaves a failed post."""
    if _about_slack(event):
        return
    rules = await SlackRule.for_org(event.org_id).filter(event_type=event.type, enabled=True)
    if not rules or (await connection(event.org_id))[0] is None:
        return
    context = event_context(event.type, event.id, getattr(event, "timestamp", None))
    for rule in rules:
        if await SlackPost.for_org(event.org_id).filter(rule_id=rule.id, event_id=event.id).exists():
            continue
        try:
            text, error = templates.render(rule.template, context, event.data), None
        except templates.TemplateProblem as problem:
            text, error = "", str(problem)
        if error is None and not text.strip():
            error = "the template rendered an empty message"
        try:
            async with transaction():
                post = await SlackPost.create(org_id=event.org_id, source="rule", rule_id=rule.id, event_id=event.id,
                                              channel=rule.channel, text=text, created_by=rule.created_by)
                if error is None:
                    await _enqueue(hub, post)
        except IntegrityError:  # the same event handled twice at once: the other one queued it
            continue
        if error is not None:
            log.info("slack rule %s made no message for event %s: %s", rule.id, event.id, error)
            await _fail(post, error)
