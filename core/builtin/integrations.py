"""Integrations an organization connects (seed 004's Integrations API), for every plugin.

Plugins declare them with `hub_integrations` (a mail provider, Slack, a DMS...); this module
keeps each organization's connection: the credentials encrypted in the core's credential store
(owner: the integration's plugin, name: its id), the visible config, a status and the last
sync and error. Routes: core/builtin/routes/integrations.py.

    status   "disconnected" (no row), "connected", "error" (the last test or use failed)

Plugins read a connection with `integration_credentials` / `integration_config` and report how
it went with `integration_failed` (status "error", the `integration.error` event) and
`integration_synced` (lastSync, status back to "connected").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError

from core.events.bus import emit
from core.events.catalogue import EventPayload
from core.http.schemas import CamelModel
from core.kernel.contributions import Integration
from core.kernel.errors import HubError, not_found, pydantic_details
from core.kernel.hub import Hub, current_hub
from core.kernel.times import iso, utcnow
from core.kernel.transactions import transaction
from core.tenancy.credentials import (
    CredentialsUnreadable,
    delete_credentials,
    load_credentials,
    mask_credentials,
    save_credentials,
)
from core.tenancy.models import IntegrationConnection

TEST_TIMEOUT_SECONDS = 15.0
ERROR_LENGTH = 500


class IntegrationConfig(CamelModel):
    """The settings every integration has (seed 004's connect body); an integration's own
    `config_model` subclasses it and adds its visible fields."""

    sync_frequency: Literal["real-time", "hourly", "daily", "manual"] = "manual"
    data_types: list[str] = Field(default_factory=list, max_length=50)


@dataclass(frozen=True)
class IntegrationContext:
    """What an integration's `test` receives: the credentials and config about to be saved
    (or stored), validated by the integration's models."""

    org_id: str
    integration: str
    credentials: BaseModel
    config: BaseModel
    hub: Any


class IntegrationEvent(EventPayload):
    integration: str
    name: str
    status: Literal["connected", "disconnected", "error"]
    error: str | None = None
    reason: str | None = None  # a disconnection's, as the admin gave it


INTEGRATION_EVENTS = (
    ("integration.connected", "An integration was connected (or its credentials replaced) and its test passed"),
    ("integration.disconnected", "An integration was disconnected; its credentials are deleted"),
    ("integration.error", "An integration failed: its test, or a plugin using it (status 'error', lastError)"),
)


# -- the catalogue, as an organization sees it ----------------------------------------------------


async def available(hub: Hub, org_id: str) -> list[Integration]:
    """The integrations of the plugins switched on for this organization, by name."""
    disabled = await hub.tenants.disabled_plugins(org_id)
    return sorted((i for i in hub.integrations.values() if i.plugin not in disabled), key=lambda i: (i.name, i.id))


async def find(hub: Hub, org_id: str, integration_id: str) -> Integration:
    integration = hub.integrations.get(integration_id)
    if integration is None or integration.plugin in await hub.tenants.disabled_plugins(org_id):
        raise not_found("Integration")
    return integration


async def connections(org_id: str) -> dict[str, IntegrationConnection]:
    return {row.integration: row for row in await IntegrationConnection.for_org(org_id)}


def config_model(integration: Integration) -> type[BaseModel]:
    return integration.config_model or IntegrationConfig


async def describe(org_id: str, integration: Integration, connection: IntegrationConnection | None) -> dict:
    """Seed 004's integration: id, name, type, status, category, config, lastSync; and what a
    user needs besides: the masked credentials, the last error and when it was connected."""
    credentials, unreadable = None, None
    if connection is not None:
        try:
            stored = await load_credentials(org_id, integration.plugin, integration.id)
            credentials = mask_credentials(_by_alias(integration.credentials_model, stored or {}))
        except CredentialsUnreadable as error:  # the secret changed without previous_secret_keys
            unreadable = str(error)
    return {
        "id": integration.id,
        "name": integration.name,
        "type": integration.type,
        "category": integration.category,
        "description": integration.description,
        "status": ("error" if unreadable else connection.status) if connection else "disconnected",
        "config": connection.config if connection else None,
        "credentials": credentials,
        "connectedAt": iso(connection.connected_at) if connection else None,
        "lastSync": iso(connection.last_sync_at) if connection and connection.last_sync_at else None,
        "lastError": unreadable or connection.last_error if connection else None,
        "lastErrorAt": iso(connection.last_error_at) if connection and connection.last_error_at else None,
        "credentialsSchema": _fields(integration.credentials_model),
        "configSchema": _fields(config_model(integration)),
    }


def _fields(model: type[BaseModel]) -> list[dict]:
    """The fields a connect body takes, by the name it takes them (the alias)."""
    return [{"name": info.alias or name, "required": info.is_required(),
             "secret": info.annotation is SecretStr or info.annotation == SecretStr | None}
            for name, info in model.model_fields.items()]


def _by_alias(model: type[BaseModel], values: Any) -> dict:
    return {(model.model_fields[name].alias or name) if name in model.model_fields else name: value
            for name, value in dict(values).items()}


# -- connecting -------------------------------------------------------------------------------------


def _validated(model: type[BaseModel], data: dict, field: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = pydantic_details(error)
        problems = details.get("errors") or [details]
        for problem in problems:  # name the field inside the body's part, and never echo a secret
            if "field" in problem:
                problem["field"] = f"{field}.{problem['field']}"
            problem.pop("input", None)
        raise HubError("VALIDATION_ERROR", f"Invalid {field}", {"field": field, "errors": problems}) from None


def _stored_values(credentials: BaseModel) -> dict[str, str]:
    """Credentials as the store keeps them: strings, by field name (secrets revealed here only)."""
    values = {}
    for name, value in credentials:
        if value is None:
            continue
        values[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return values


def _scrubbed(message: str, secrets: dict[str, str]) -> str:
    """A failure's message as it may be stored and shown: no credential value in it."""
    for value in secrets.values():
        if len(value) >= 4:
            message = message.replace(value, "\u2022\u2022\u2022\u2022")
    return message[:ERROR_LENGTH]


async def _run_test(hub: Hub, org_id: str, integration: Integration, credentials: BaseModel,
                    config: BaseModel) -> str | None:
    """None when the integration's test passes (or it has none), else why it failed."""
    if integration.test is None:
        return None
    context = IntegrationContext(str(org_id), integration.id, credentials, config, hub)
    try:
        async with asyncio.timeout(TEST_TIMEOUT_SECONDS):
            await integration.test(context)
    except TimeoutError:
        return f"the connection test took longer than {TEST_TIMEOUT_SECONDS:g} s"
    except Exception as error:  # the plugin's message is the user's answer
        return _scrubbed(str(error) or type(error).__name__, _stored_values(credentials))
    return None


async def _checked(hub: Hub, org_id: str, integration: Integration, credentials: dict,
                   config: dict) -> tuple[BaseModel, BaseModel]:
    """Credentials and config validated by the integration's models and passing its test."""
    checked_credentials = _validated(integration.credentials_model, credentials, "credentials")
    checked_config = _validated(config_model(integration), config, "config")
    failure = await _run_test(hub, org_id, integration, checked_credentials, checked_config)
    if failure is not None:
        raise HubError("INTEGRATION_CONNECTION_FAILED", f"Could not connect {integration.name}: {failure}",
                       {"integration": integration.id, "reason": failure})
    return checked_credentials, checked_config


async def try_credentials(hub: Hub, org_id: str, integration: Integration, credentials: dict, config: dict) -> dict:
    """Test credentials without storing them (a form's "test connection"): the integration as
    it is, or 400 INTEGRATION_CONNECTION_FAILED."""
    await _checked(hub, org_id, integration, credentials, config)
    return await describe(org_id, integration, await _connection(org_id, integration.id))


async def connect(hub: Hub, org_id: str, integration: Integration, credentials: dict, config: dict) -> dict:
    """Check and store a connection. A failing test stores nothing (400), so a typo never
    replaces working credentials."""
    checked_credentials, checked_config = await _checked(hub, org_id, integration, credentials, config)
    now = utcnow()
    visible = checked_config.model_dump(mode="json", by_alias=True)
    async with transaction():
        await save_credentials(org_id, integration.plugin, integration.id, _stored_values(checked_credentials))
        updated = await IntegrationConnection.filter(org_id=org_id, integration=integration.id).update(
            status="connected", config=visible, connected_at=now, last_error=None, last_error_at=None)
        if not updated:
            await IntegrationConnection.create(org_id=org_id, integration=integration.id, config=visible,
                                               connected_at=now)
        await _announce(org_id, "integration.connected", integration, "connected")
    return await describe(org_id, integration, await _connection(org_id, integration.id))


async def test_connection(hub: Hub, org_id: str, integration: Integration) -> dict:
    """Test the stored connection again; a failure sets status "error" (and the event)."""
    connection = await _connection(org_id, integration.id)
    if connection is None:
        raise HubError("CONFLICT", f"{integration.name} is not connected", {"integration": integration.id})
    try:
        credentials = await integration_credentials(org_id, integration.id)
        if credentials is None:  # a plugin's own connections (integration_connected): none stored here
            credentials = integration.credentials_model.model_validate({})
        config = config_model(integration).model_validate(connection.config)
    except (CredentialsUnreadable, ValidationError) as error:  # a changed secret, or a changed model
        failure = _scrubbed(f"the stored connection cannot be read: {error}", {})
    else:
        failure = await _run_test(hub, org_id, integration, credentials, config)
    if failure is None:
        await IntegrationConnection.filter(id=connection.id).update(status="connected", last_error=None,
                                                                    last_error_at=None)
    else:
        await integration_failed(org_id, integration.id, failure)
    return await describe(org_id, integration, await _connection(org_id, integration.id))


async def disconnect(org_id: str, integration: Integration, reason: str | None = None) -> dict:
    async with transaction():
        removed = await IntegrationConnection.filter(org_id=org_id, integration=integration.id).delete()
        await delete_credentials(org_id, integration.plugin, integration.id)
        if removed:
            await _announce(org_id, "integration.disconnected", integration, "disconnected", reason=reason)
    return await describe(org_id, integration, None)


async def _connection(org_id: str, integration_id: str) -> IntegrationConnection | None:
    return await IntegrationConnection.get_or_none(org_id=org_id, integration=integration_id)


async def _announce(org_id: str, event_type: str, integration: Integration, status: str,
                    error: str | None = None, reason: str | None = None) -> None:
    await emit(org_id, event_type, IntegrationEvent(integration=integration.id, name=integration.name,
                                                    status=status, error=error, reason=reason).model_dump())


# -- the plugins' side ------------------------------------------------------------------------------


def _integration(integration_id: str) -> Integration:
    integration = current_hub().integrations.get(integration_id)
    if integration is None:
        raise KeyError(f"no integration {integration_id!r} is registered")
    return integration


async def integration_credentials(org_id: str, integration_id: str) -> BaseModel | None:
    """The organization's credentials for an integration, as its `credentials_model` (secrets
    stay SecretStr), or None when it is not connected."""
    integration = _integration(integration_id)
    stored = await load_credentials(org_id, integration.plugin, integration.id)
    return None if stored is None else integration.credentials_model.model_validate(dict(stored))


async def integration_config(org_id: str, integration_id: str) -> BaseModel | None:
    """The organization's visible config of an integration, or None when it is not connected."""
    integration = _integration(integration_id)
    connection = await _connection(org_id, integration_id)
    return None if connection is None else config_model(integration).model_validate(connection.config)


async def integration_failed(org_id: str, integration_id: str, message: str) -> None:
    """A plugin could not use the connection: status "error", the message (credentials scrubbed)
    shown as lastError, and `integration.error` for notifications and webhooks."""
    integration = _integration(integration_id)
    try:
        stored = await load_credentials(org_id, integration.plugin, integration.id)
    except CredentialsUnreadable:
        stored = None
    message = _scrubbed(message, dict(stored or {}))
    async with transaction():
        changed = await IntegrationConnection.filter(org_id=org_id, integration=integration_id).update(
            status="error", last_error=message, last_error_at=utcnow())
        if changed:
            await _announce(org_id, "integration.error", integration, "error", message)


async def integration_connected(org_id: str, integration_id: str, config: dict | None = None) -> None:
    """A plugin that keeps connections of its own (several per organization, e.g. the DMS
    plugin's, with their credentials saved by it in the credential store) shows them in the
    catalogue: the integration's row exists with this visible `config`, status "connected"
    (`integration.connected` when the row is new). A no-op for an unknown organization row."""
    integration = _integration(integration_id)
    visible = config_model(integration).model_validate(config or {}).model_dump(mode="json", by_alias=True)
    async with transaction():
        updated = await IntegrationConnection.filter(org_id=org_id, integration=integration_id).update(config=visible)
        if not updated:
            await IntegrationConnection.create(org_id=org_id, integration=integration_id, config=visible,
                                               connected_at=utcnow())
            await _announce(org_id, "integration.connected", integration, "connected")


async def integration_disconnected(org_id: str, integration_id: str) -> None:
    """The plugin's last connection of this integration is gone: its catalogue row (and any
    credentials stored under the integration's own name) with `integration.disconnected`."""
    await disconnect(org_id, _integration(integration_id))


async def integration_synced(org_id: str, integration_id: str, at: datetime | None = None) -> None:
    """A plugin used the connection successfully: lastSync, and status back to "connected"."""
    _integration(integration_id)
    await IntegrationConnection.filter(org_id=org_id, integration=integration_id).update(
        status="connected", last_sync_at=at or utcnow(), last_error=None, last_error_at=None)
