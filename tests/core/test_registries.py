"""The `register` hooks added by the plugin kit: error codes, typed event types (the catalogue,
`GET /api/v1/events/types`, `/asyncapi.json`) and workflow node types. Each bad registration
stops start-up naming the plugin and the hook."""

from __future__ import annotations

import logging
import uuid

import pytest
from pydantic import BaseModel
from quart import Blueprint

from core.app import create_app
from core.events.bus import emit
from core.events.catalogue import EventError
from core.http.auth import public
from core.http.schemas import SnakeModel
from core.kernel.contributions import NodeContext
from core.kernel.errors import HubError
from core.kernel.plugins import PluginError
from core.testing import assert_error, plugin_module
from tests.helpers import make_settings


def app_with(tmp_path, *plugins, **settings):
    import hub_example_plugin

    return create_app(make_settings(tmp_path, **settings), plugins=[hub_example_plugin, *plugins])


# -- hub_error_codes -------------------------------------------------------------------------------


def locking_plugin(status: int = 423):
    blueprint = Blueprint("locking", __name__)

    @blueprint.get("/locked")
    @public
    async def locked():
        raise HubError("NOTE_LOCKED", "The note is locked by another editor", {"field": "id"})

    def hub_error_codes(register):
        register("NOTE_LOCKED", status, "Someone else is editing the note")

    return plugin_module("locking", hub_routes=lambda: blueprint, hub_error_codes=hub_error_codes)


async def test_hook_hub_error_codes_gives_a_code_its_status_in_the_envelope(tmp_path):
    app = app_with(tmp_path, locking_plugin())
    hub = app.extensions["hub"]
    assert ("NOTE_LOCKED", 423, "locking", "Someone else is editing the note") in list(hub.error_codes)
    response = await app.test_client().get("/locked")
    body = await response.get_json()
    assert_error(response.status_code, body, 423, "NOTE_LOCKED")
    assert body["error"]["details"] == {"field": "id"}


@pytest.mark.parametrize("code, status, reason", [
    ("note-locked", 423, "UPPER_SNAKE_CASE"),
    ("NOTE_LOCKED", 200, "HTTP error status"),
    ("NOT_FOUND", 410, "already registered by 'core' with status 404"),
])
def test_bad_error_codes_stop_start_up_naming_plugin_and_hook(tmp_path, code, status, reason):
    def hub_error_codes(register):
        register(code, status)

    with pytest.raises(PluginError, match=rf"plugin 'bad_codes', hook hub_error_codes: .*{reason}"):
        app_with(tmp_path, plugin_module("bad_codes", hub_error_codes=hub_error_codes))


def test_an_unregistered_code_is_refused_where_it_is_raised():
    with pytest.raises(ValueError, match="hub_error_codes"):
        HubError("NEVER_REGISTERED_ANYWHERE", "nope")


# -- hub_event_types and the catalogue ----------------------------------------------------------------


class ThingShipped(SnakeModel):
    thing_id: str
    carrier: str


def shipping_plugin(**register_options):
    def hub_event_types(register):
        register("shipping.thing.shipped", ThingShipped, "A thing left the warehouse", **register_options)

    return plugin_module("shipping", hub_event_types=hub_event_types)


async def test_hook_hub_event_types_checks_every_emitted_event(tmp_path, app):
    shipping = app_with(tmp_path, shipping_plugin())
    org_id = str(uuid.uuid4())
    async with shipping.app_context():
        event = await emit(org_id, "shipping.thing.shipped", {"thing_id": "t1", "carrier": "UPS"})
        assert event.type == "shipping.thing.shipped"
        with pytest.raises(EventError, match="does not match ThingShipped"):
            await emit(org_id, "shipping.thing.shipped", {"thing_id": "t1"})  # carrier missing
        with pytest.raises(EventError, match="carrrier"):
            await emit(org_id, "shipping.thing.shipped", {"thing_id": "t1", "carrier": "UPS", "carrrier": "x"})
        with pytest.raises(EventError, match="not registered"):
            await emit(org_id, "shipping.thing.lost", {"thing_id": "t1"})
    assert shipping.extensions["hub"].bus.catalogue.rejected == 3


async def test_in_log_mode_a_bad_event_is_logged_and_still_delivered(tmp_path, app, caplog):
    received = []

    async def hub_on_event(event):
        received.append(event)

    listener = plugin_module("listener", hub_on_event=hub_on_event)
    shipping = app_with(tmp_path, shipping_plugin(), listener, events={"validate_payloads": "log"})
    with caplog.at_level(logging.ERROR, logger="hub.events"):
        async with shipping.app_context():
            await emit(str(uuid.uuid4()), "shipping.thing.shipped", {"thing_id": "t1"})
            await shipping.extensions["hub"].bus.settle()
    assert [e.type for e in received] == ["shipping.thing.shipped"]
    assert any("does not match ThingShipped" in record.getMessage() for record in caplog.records)


def test_production_logs_rather_than_raises_by_default(tmp_path):
    from core.events.bus import EventBus

    hub = app_with(tmp_path).extensions["hub"]
    assert hub.bus.catalogue.mode == "strict"  # tests and development
    hub.settings = hub.settings.model_copy(update={"env": "production"})
    assert EventBus(hub).catalogue.mode == "log"


@pytest.mark.parametrize("name, options, reason", [
    ("shipping.thing.ships", {}, "past tense"),
    ("Shipping.Thing", {}, "lower_snake"),
    ("shipping", {}, "lower_snake"),
    ("shipping.thing.shipped", {"permission": "no.such.permission"}, "unknown permission"),
])
def test_bad_event_types_stop_start_up(tmp_path, name, options, reason):
    def hub_event_types(register):
        register(name, ThingShipped, "described", **options)

    with pytest.raises(PluginError, match=rf"plugin 'bad_events', hook hub_event_types: .*{reason}"):
        app_with(tmp_path, plugin_module("bad_events", hub_event_types=hub_event_types))


def test_a_seed_name_may_break_the_tense_rule_but_must_say_so(tmp_path):
    def hub_event_types(register):
        register("dashboard.update", ThingShipped, "A seed's name", seed="004")

    app = app_with(tmp_path, plugin_module("seedy", hub_event_types=hub_event_types))
    assert app.extensions["hub"].bus.catalogue.types["dashboard.update"].seed == "004"


def test_two_plugins_cannot_register_one_type(tmp_path):
    def hub_event_types(register):
        register("example.note_created", ThingShipped, "a copy")

    with pytest.raises(PluginError, match="registered by both 'hub_example_plugin' and 'copycat'"):
        app_with(tmp_path, plugin_module("copycat", hub_event_types=hub_event_types))


async def test_every_plugin_event_is_in_the_catalogue(hub):
    names = set(hub.bus.catalogue.types)
    assert {"lead.created", "lead.updated", "message.received", "metrics.update", "agent.status",
            "agent.completed", "recommender.training.completed", "job.completed", "job.timed_out",
            "example.note_created"} <= names
    for event_type in hub.bus.catalogue.types.values():
        assert event_type.description and event_type.payload.model_json_schema()["type"] == "object"


async def test_the_catalogue_endpoint_lists_types_with_schemas_and_follows_plugin_switches(client, admin):
    response = await client.get("/api/v1/events/types?limit=100", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    by_name = {t["name"]: t for t in body["event_types"]}
    assert body["total"] == len(by_name) and response.headers["X-Total-Count"] == str(body["total"])
    lead = by_name["lead.created"]
    assert lead["plugin"] == "crm" and lead["permission"] == "crm.leads.read" and lead["seed"] == "004"
    assert set(lead["payload_schema"]["properties"]) >= {"id", "name", "email", "source", "actorId"}
    off = await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": False})
    assert off.status_code == 200
    try:
        hidden = await (await client.get("/api/v1/events/types?limit=100", headers=admin.headers)).get_json()
        assert not [t for t in hidden["event_types"] if t["plugin"] == "crm"]
        assert any(t["name"] == "job.completed" for t in hidden["event_types"])
    finally:
        await client.put("/api/v1/plugins/crm", headers=admin.headers, json={"enabled": True})
    anonymous = await client.get("/api/v1/events/types")
    assert_error(anonymous.status_code, await anonymous.get_json(), 401, "AUTHENTICATION_FAILED")


def _refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)
    return found


def _resolve(document, ref):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


async def test_asyncapi_document_is_valid_and_every_reference_resolves(client):
    from asyncapi3.models import AsyncAPI3

    response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    AsyncAPI3.model_validate(document)  # raises on a structural error
    for ref in _refs(document, set()):
        assert ref.startswith("#/"), ref
        _resolve(document, ref)  # KeyError: a dangling reference
    assert document["channels"]["events"]["address"] == "/ws"
    assert document["channels"]["notifications"]["address"] == "/ws/notifications"
    assert "notification-created" in document["channels"]["notifications"]["messages"]
    assert "lead-created" not in document["channels"]["notifications"]["messages"]
    assert document["components"]["messages"]["socket-lead-created"]["name"] == "lead.created"
    socket = document["components"]["messages"]["socket-lead-created"]["payload"]
    assert socket["properties"]["type"]["const"] == "lead.created"
    data_schema = _resolve(document, socket["properties"]["data"]["$ref"])
    assert "actorId" in data_schema["properties"]
    webhook = document["components"]["messages"]["webhook-lead-created"]
    assert set(webhook["payload"]["required"]) == {"event", "data", "timestamp", "id"}
    assert "X-Signature" in _resolve(document, webhook["headers"]["$ref"])["properties"]


async def test_socket_messages_match_their_asyncapi_schema(client, admin, ws, hub_client):
    """What /ws sends for a real event validates against the document's message schema."""
    import jsonschema

    document = await (await client.get("/asyncapi.json")).get_json()
    async with ws(admin) as socket:
        created = await hub_client.post("/api/leads", headers=admin.headers, json={"name": "Schema Check"})
        assert created.status_code == 201
        message = await socket.event("lead.created")
    schema = {**document["components"]["messages"]["socket-lead-created"]["payload"],
              "components": document["components"]}
    jsonschema.validate(message, schema)


# -- hub_workflow_nodes ---------------------------------------------------------------------------------


class UppercaseConfig(BaseModel):
    field: str = "text"


async def uppercase(ctx: NodeContext, config: UppercaseConfig, inputs: dict) -> dict:
    data = dict(inputs["main"])
    data[config.field] = data[config.field].upper()
    return {"main": data, "audit": {"org_id": str(ctx.org_id)}}


async def test_hook_hub_workflow_nodes_registers_runnable_node_types(tmp_path):
    def hub_workflow_nodes(register):
        register("texts.uppercase", "Upper-case one field", UppercaseConfig, uppercase,
                 inputs=["main"], outputs=["main", "audit"])

    app = app_with(tmp_path, plugin_module("texts", hub_workflow_nodes=hub_workflow_nodes))
    hub = app.extensions["hub"]
    node = hub.workflow_nodes["texts.uppercase"]
    description = node.describe()
    assert description["plugin"] == "texts" and description["outputs"] == ["main", "audit"]
    assert description["config_schema"]["properties"]["field"]["default"] == "text"
    result = await node.run(NodeContext("org-1", "user-1", hub), node.config_model(), {"main": {"text": "hi"}})
    assert result == {"main": {"text": "HI"}, "audit": {"org_id": "org-1"}}


def test_the_crm_offers_its_operations_as_workflow_nodes(hub):
    assert {"crm.create_lead", "crm.update_lead_status"} <= set(hub.workflow_nodes)
    assert hub.workflow_nodes["crm.create_lead"].plugin == "crm"


@pytest.mark.parametrize("name, run, inputs, reason", [
    ("uppercase", uppercase, ["main"], "'<plugin>.<action>'"),
    ("texts.sync", lambda ctx, config, inputs: {}, ["main"], "async def"),
    ("texts.ports", uppercase, ["Main Input"], "lower_snake"),
    ("texts.twice", uppercase, ["main", "main"], "repeat"),
])
def test_bad_workflow_nodes_stop_start_up(tmp_path, name, run, inputs, reason):
    def hub_workflow_nodes(register):
        register(name, "bad", UppercaseConfig, run, inputs=inputs)

    with pytest.raises(PluginError, match=rf"plugin 'bad_nodes', hook hub_workflow_nodes: .*{reason}"):
        app_with(tmp_path, plugin_module("bad_nodes", hub_workflow_nodes=hub_workflow_nodes))
