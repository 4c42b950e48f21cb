"""Mautic (seed 000's mautic-integration, issue #20): Mautic's REST API under `/mautic` for
existing Mautic clients: contacts (de-duplicated on email, tags, points, do-not-contact),
segments (static and filter-based), emails (sent through the messaging plugin, with open and
click tracking and unsubscribe links) and campaigns that run on the core's jobs. Contacts are
mirrored with the CRM through its `upsert_contact` function and its contact events."""

from __future__ import annotations

mount = "/mautic"


def hub_config():
    from plugins.integrations.mautic.settings import MauticSettings

    return MauticSettings


def hub_models():
    return ["plugins.integrations.mautic.models"]


def hub_routes(app):
    from plugins.integrations.mautic.routes import bp

    return bp


def hub_permissions(register):
    register("mautic.read", "See Mautic contacts, segments, emails and campaigns", "read")
    register("mautic.write", "Create, change and delete Mautic contacts, segments, emails and campaigns", "write")
    register("mautic.send", "Send Mautic emails to contacts and segments", "write")


def hub_event_types(register):
    from plugins.integrations.mautic.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="mautic.read")


def hub_jobs(register):
    from plugins.integrations.mautic.campaigns import RUN_JOB, run_job

    register(RUN_JOB, run_job, max_attempts=3, concurrency_per_org=1)


async def hub_on_event(event):
    # CRM contacts show up here (the CRM's own echoes of Mautic's contacts are skipped)
    if event.type in ("contact.created", "contact.updated"):
        from plugins.integrations.mautic.service import mirror_crm_contact

        await mirror_crm_contact(event.org_id, event.data)


async def hub_startup(hub):
    from plugins.integrations.mautic.campaigns import tick

    def interval() -> float:
        return hub.plugin_settings("mautic").campaign_tick_seconds

    hub.run_every("mautic.campaigns", interval, lambda: tick(hub), start_after=interval())
