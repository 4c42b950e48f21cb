"""DMS connectors (seed 001 "Dealership Management Systems", issue #21): CDK, Reynolds,
DealerSocket and Custom behind one adapter interface; connections per organization with
credentials in the core's encrypted store, shown in /api/integrations as `dms-<provider>`;
full and incremental syncs as resumable jobs (rate limit, retries, Retry-After, OAuth2 refresh,
circuit breaker); customers become CRM contacts (`upsert_contact`), opportunities CRM leads
(`create_lead`), and vehicles due for service emit `dms.vehicle.service_needed`."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.integrations.dms.settings import DmsSettings

    return DmsSettings


def hub_models():
    return ["plugins.integrations.dms.models"]


def hub_routes(app):
    from plugins.integrations.dms.routes import bp

    return bp


def hub_permissions(register):
    register("dms.read", "See DMS connections, syncs and synced data", "read")
    register("dms.sync", "Start DMS syncs", "write")
    register("dms.manage", "Add, change, test and delete DMS connections", "admin")


def hub_error_codes(register):
    register("DMS_CONNECTION_FAILED", 503, "The DMS connection is failing (seed 001 DMS_001): its circuit breaker "
                                          "is open, syncs are refused until it recovers")


def hub_event_types(register):
    from plugins.integrations.dms.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="dms.read")


def hub_integrations(register):
    from pydantic import BaseModel

    from plugins.integrations.dms.adapters import ADAPTERS
    from plugins.integrations.dms.service import integration_id, test_provider

    class NoCredentials(BaseModel):
        """A DMS connection's credentials are its own (POST /api/v1/dms/connections)."""

    for provider in ADAPTERS:
        register(integration_id(provider), f"{provider} DMS", "dms", "dealership", NoCredentials,
                 test=test_provider,
                 description=f"Dealership management system ({provider}): connections are managed at "
                             "/api/v1/dms/connections")


def hub_jobs(register):
    from plugins.integrations.dms.jobs import run_sync
    from plugins.integrations.dms.service import SYNC_JOB

    # a failed sync is not retried by the job system (its calls were retried already); a sync
    # whose worker died is taken over and goes on from its cursor
    register(SYNC_JOB, run_sync, max_attempts=3)


async def hub_startup(hub):
    from plugins.integrations.dms.service import run_due

    hub.run_every("dms.scheduled_syncs", lambda: hub.plugin_settings("dms").scheduler_interval_seconds,
                  lambda: run_due(hub), start_after=5.0)
