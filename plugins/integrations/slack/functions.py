"""Posting to Slack for other plugins and for models: the hub function `slack_post_message` (the
notifications plugin's `slack` channel calls it) and the workflow node `slack.post_message`.
Both queue through service.queue_post, as the API does."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import HubError, current_hub
from plugins.integrations.slack import service
from plugins.integrations.slack.schemas import Channel, PostRequest


def _queued(post) -> dict:
    body = service.post_body(post)
    return {**body, "created_at": body["created_at"].isoformat(), "sent_at": None}


async def slack_post_message(ctx, args: PostRequest) -> dict:
    post = await service.queue_post(current_hub(), ctx.org_id, ctx.user_id, args.text, args.channel, "function")
    return _queued(post)


FUNCTIONS = (
    ("slack_post_message", "Post a message to the organization's Slack (text in Slack's format; channel "
     "#name, @user or an id, else the integration's default); it is queued and sent by a job",
     PostRequest, "slack.post", slack_post_message),
)


class PostMessageNode(BaseModel):
    """The node's message; the input (`main`) may carry `text` and `channel` instead. The text
    may use the workflow's expressions ({{ $json.name }})."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=40_000)
    channel: Channel | None = None


async def post_message_node(ctx, config: PostMessageNode, inputs: dict) -> dict:
    """Input `main`: text/channel over the node's config; output `main`: the queued post. Runs with
    the rights of whoever started the execution: they need `slack.post`."""
    if ctx.principal is not None and not ctx.principal.can("slack.post"):
        raise HubError("FORBIDDEN", "Insufficient permissions", {"permission": "slack.post"})
    given = inputs.get("main") if isinstance(inputs.get("main"), dict) else {}
    text = given.get("text") if isinstance(given.get("text"), str) and given.get("text") else config.text
    channel = given.get("channel") if isinstance(given.get("channel"), str) and given.get("channel") else config.channel
    try:
        request = PostRequest.model_validate({"text": text, "channel": channel})
    except ValueError as error:
        raise HubError("VALIDATION_ERROR", f"The node's message is not valid: {error}") from None
    post = await service.queue_post(ctx.hub, ctx.org_id, ctx.user_id, request.text, request.channel, "workflow")
    return {"main": _queued(post)}


WORKFLOW_NODES = (
    ("slack.post_message", "Post a message to Slack", PostMessageNode, post_message_node),
)
