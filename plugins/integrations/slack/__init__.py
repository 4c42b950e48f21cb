"""Slack (issue #18): an organization connects Slack through the core's integrations API (an
incoming-webhook URL or a bot token, encrypted at rest) and posts messages: by rules ("post
`lead.created` to #sales with this template"), by the API, by the hub function
`slack_post_message` (the notifications plugin's `slack` channel) and by the workflow node
`slack.post_message`. Posts are jobs with retries; a refused or unreachable Slack marks the
integration `error` (`integration.error`)."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.integrations.slack.settings import SlackSettings

    return SlackSettings


def hub_models():
    return ["plugins.integrations.slack.models"]


def hub_routes(app):
    from plugins.integrations.slack.routes import bp

    return bp


def hub_permissions(register):
    register("slack.read", "See the Slack rules and the messages posted to Slack", "read")
    register("slack.post", "Post messages to the organization's Slack", "write")
    register("slack.manage", "Create, change and delete the rules that post events to Slack", "develop")


def hub_event_types(register):
    from plugins.integrations.slack.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="slack.read")


def hub_integrations(register):
    from plugins.integrations.slack.integrations import INTEGRATIONS

    for integration_id, name, kind, category, credentials, config, test, description in INTEGRATIONS:
        register(integration_id, name, kind, category, credentials, config_model=config, test=test,
                 description=description)


def hub_jobs(register, hub):
    from plugins.integrations.slack.jobs import post_message
    from plugins.integrations.slack.service import POST_JOB

    register(POST_JOB, post_message, max_attempts=hub.plugin_settings("slack").post_attempts)


async def hub_on_event(event, hub):
    from plugins.integrations.slack.service import on_event

    await on_event(hub, event)


def hub_functions(register):
    from plugins.integrations.slack.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


def hub_workflow_nodes(register):
    from plugins.integrations.slack.functions import WORKFLOW_NODES

    for name, description, config_model, run in WORKFLOW_NODES:
        register(name, description, config_model, run)
