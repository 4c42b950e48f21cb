"""Messaging (seed 001 "Communication Providers", issue #18): email through SMTP, SendGrid,
Amazon SES or Mailgun and SMS through Twilio, Amazon SNS or MessageBird, each organization with
its own provider credentials (the core's integrations API, encrypted at rest), sends queued as
jobs with retries and a fallback provider, a status history per message, the providers' signed
delivery and bounce webhooks, a suppression list per organization, sandboxed Jinja2 templates,
the hub functions `send_email` / `send_sms` and the workflow nodes `email-sender` / `sms-sender`."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.integrations.messaging.settings import MessagingSettings

    return MessagingSettings


def hub_models():
    return ["plugins.integrations.messaging.models"]


def hub_routes(app):
    from plugins.integrations.messaging.routes import bp

    return bp


def hub_permissions(register):
    register("messaging.send", "Send emails and SMS", "write")
    register("messaging.read", "See messages, their status and the templates", "read")
    register("messaging.templates", "Create, change and delete message templates", "write")


def hub_error_codes(register):
    register("INVALID_SIGNATURE", 400, "A webhook whose signature is missing, wrong or too old")
    register("TEMPLATE_ERROR", 400, "A message template that does not parse, lacks a variable or reaches for "
                                    "what the sandbox forbids")


def hub_event_types(register):
    from plugins.integrations.messaging.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="messaging.read")


def hub_integrations(register):
    from plugins.integrations.messaging.integrations import INTEGRATIONS

    for integration_id, name, kind, category, credentials, config, test, description in INTEGRATIONS:
        register(integration_id, name, kind, category, credentials, config_model=config, test=test,
                 description=description)


def hub_jobs(register, hub):
    from plugins.integrations.messaging.jobs import send_message
    from plugins.integrations.messaging.service import SEND_JOB

    # attempts: each message's job is enqueued with the send_attempts setting
    register(SEND_JOB, send_message, max_attempts=hub.plugin_settings("messaging").send_attempts)


def hub_functions(register):
    from plugins.integrations.messaging.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


def hub_workflow_nodes(register):
    from plugins.integrations.messaging.functions import WORKFLOW_NODES

    for name, description, config_model, run in WORKFLOW_NODES:
        register(name, description, config_model, run)
