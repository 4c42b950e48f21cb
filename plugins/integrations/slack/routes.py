"""Slack routes, at the root mount:

    GET    /api/v1/slack/rules                 the rules, paginated                  slack.read
    POST   /api/v1/slack/rules                 create a rule (201)                   slack.manage
    GET    /api/v1/slack/rules/{id}            one rule                              slack.read
    PUT    /api/v1/slack/rules/{id}            change it                             slack.manage
    DELETE /api/v1/slack/rules/{id}            delete it (204)                       slack.manage
    POST   /api/v1/slack/rules/{id}/preview    render it with example data           slack.read
    POST   /api/v1/slack/messages              post a message (202, queued)          slack.post
    GET    /api/v1/slack/messages              the posts (?status, ?rule_id)         slack.read
    GET    /api/v1/slack/messages/{id}         one post                              slack.read

Slack itself is connected at /api/integrations/slack (a webhook URL or a bot token).
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request, validate_response

from core import OffsetQuery, current_hub, current_principal, document_errors, require, validate_query
from plugins.integrations.slack import service
from plugins.integrations.slack.models import SlackRule
from plugins.integrations.slack.schemas import (
    PostList,
    PostOut,
    PostQuery,
    PostRequest,
    RuleCreate,
    RuleList,
    RuleOut,
    RulePreview,
    RulePreviewRequest,
    RuleUpdate,
)

bp = Blueprint("slack", __name__)


@bp.get("/api/v1/slack/rules")
@require("slack.read")
@validate_query(OffsetQuery)
@document_response(RuleList)
async def slack_list_rules(query_args: OffsetQuery):
    """The organization's Slack rules, by name."""
    page = query_args.page()
    rows, total = await page.fetch(SlackRule.for_org(current_principal().org_id), "name")
    return page.listing("rules", [service.rule_body(row) for row in rows], total)


@bp.post("/api/v1/slack/rules")
@require("slack.manage")
@validate_request(RuleCreate)
@validate_response(RuleOut, 201)
@document_errors(409)
async def slack_create_rule(data: RuleCreate):
    """Create a rule: each event of `event_type` (lead.created) posts `template` rendered with the
    event to `channel` (#sales; none: the integration's default channel, or the webhook's own).

    The event type must be in the catalogue and readable by the caller (its permission: a rule
    forwards the events' data to Slack); Slack's own events are refused. The template is Jinja2
    in a sandbox (`event`, `data`; printed values escaped for Slack): one that does not parse is
    a 400 naming `template`."""
    row = await service.create_rule(current_hub(), current_principal(), data.model_dump())
    return service.rule_body(row), 201


@bp.get("/api/v1/slack/rules/<rule_id>")
@require("slack.read")
@validate_response(RuleOut)
async def slack_get_rule(rule_id: str):
    """One rule."""
    return service.rule_body(await service.get_rule(current_principal().org_id, rule_id))


@bp.put("/api/v1/slack/rules/<rule_id>")
@require("slack.manage")
@validate_request(RuleUpdate)
@validate_response(RuleOut)
async def slack_update_rule(rule_id: str, data: RuleUpdate):
    """Change a rule's fields (those given; `channel: null` goes back to the default channel)."""
    row = await service.update_rule(current_hub(), current_principal(), rule_id, data.model_dump(exclude_unset=True))
    return service.rule_body(row)


@bp.delete("/api/v1/slack/rules/<rule_id>")
@require("slack.manage")
@document_response(None, 204)
async def slack_delete_rule(rule_id: str):
    """Delete a rule (its posts stay listed)."""
    await service.delete_rule(current_principal().org_id, rule_id)
    return "", 204


@bp.post("/api/v1/slack/rules/<rule_id>/preview")
@require("slack.read")
@validate_request(RulePreviewRequest)
@validate_response(RulePreview)
async def slack_preview_rule(rule_id: str, data: RulePreviewRequest):
    """Render the rule's template with example event `data`, posting nothing; a template that
    cannot render (an unsafe expression) is a 400 naming `template`."""
    rule = await service.get_rule(current_principal().org_id, rule_id)
    return service.preview(rule, data.data)


@bp.post("/api/v1/slack/messages")
@require("slack.post")
@validate_request(PostRequest)
@validate_response(PostOut, 202)
async def slack_post_message(data: PostRequest):
    """Post a message to Slack: `text` (Slack's format, sent as written) to `channel` (a bot
    token's; a webhook posts to its own channel). Queued and sent by a job, retried with back-off
    on passing failures: follow it at GET /api/v1/slack/messages/{id} (a post while Slack is not
    connected fails there, "Slack is not connected"). 400 when a bot has no channel (none given,
    no defaultChannel)."""
    principal = current_principal()
    post = await service.queue_post(current_hub(), principal.org_id, principal.user_id, data.text, data.channel, "api")
    return service.post_body(post), 202


@bp.get("/api/v1/slack/messages")
@require("slack.read")
@validate_query(PostQuery)
@document_response(PostList)
async def slack_list_messages(query_args: PostQuery):
    """The organization's posts to Slack, newest first; `?status=` and `?rule_id=` filter them."""
    page = query_args.page()
    query = service.posts_query(current_principal().org_id, query_args.status, query_args.rule_id)
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("messages", [service.post_body(row) for row in rows], total)


@bp.get("/api/v1/slack/messages/<post_id>")
@require("slack.read")
@validate_response(PostOut)
async def slack_get_message(post_id: str):
    """One post: its text, channel, status, attempts, error and Slack's `ts`."""
    return service.post_body(await service.get_post(current_principal().org_id, post_id))
