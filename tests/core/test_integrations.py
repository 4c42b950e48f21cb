"""`/api/integrations` (seed 004): the integrations plugins declare with `hub_integrations`
(here the example plugin's Notes Cloud), connected per organization with credentials that are
tested first, stored encrypted and never shown; failures reported by plugins."""

from __future__ import annotations

import pytest

from core import integration_config, integration_credentials, integration_failed, integration_synced
from core.tenancy.models import StoredCredential
from core.testing import Api

PATH = "/api/integrations/notes-cloud"
GOOD = {"credentials": {"apiKey": "nc_0123456789abcdef", "account": "acme"},
        "config": {"syncFrequency": "hourly", "dataTypes": ["notes"], "folder": "shared"}}


async def test_hook_hub_integrations_puts_a_plugins_integration_in_the_catalogue_disconnected(api):
    body = await api.get("/api/integrations")
    notes = next(i for i in body["integrations"] if i["id"] == "notes-cloud")
    assert notes["name"] == "Notes Cloud" and notes["type"] == "storage" and notes["category"] == "notes"
    assert notes["status"] == "disconnected" and notes["config"] is None and notes["credentials"] is None
    assert {"name": "apiKey", "required": True, "secret": True} in notes["credentialsSchema"]
    assert {f["name"] for f in notes["configSchema"]} >= {"syncFrequency", "dataTypes", "folder"}
    assert body["total"] == len(body["integrations"]) and "pagination" in body


async def test_connecting_tests_stores_encrypted_and_shows_only_a_mask(api, hub_app, events):
    body = await api.call("POST", f"{PATH}/connect", GOOD)
    assert body["status"] == "connected" and body["lastError"] is None and body["connectedAt"]
    assert body["config"] == {"syncFrequency": "hourly", "dataTypes": ["notes"], "folder": "shared"}
    assert body["credentials"]["apiKey"].endswith("cdef") and "0123" not in body["credentials"]["apiKey"]
    assert body["credentials"]["account"] == "\u2022\u2022\u2022\u2022"  # short values show nothing
    assert (await api.get(PATH)) == body
    listed = await api.get("/api/integrations?status=connected")
    assert [i["id"] for i in listed["integrations"]] == ["notes-cloud"]

    async with hub_app.app_context():
        row = await StoredCredential.get(org_id=api.org_id, owner="example", name="notes-cloud")
        credentials = await integration_credentials(api.org_id, "notes-cloud")
        config = await integration_config(api.org_id, "notes-cloud")
    assert "nc_0123456789abcdef" not in row.ciphertext and "acme" not in row.ciphertext
    assert credentials.api_key.get_secret_value() == "nc_0123456789abcdef" and credentials.account == "acme"
    assert "nc_0123" not in repr(credentials)
    assert config.folder == "shared" and config.sync_frequency == "hourly"
    event = await events.wait_for(api.org_id, "integration.connected")
    assert event.data == {"integration": "notes-cloud", "name": "Notes Cloud", "status": "connected", "error": None,
                          "reason": None}


async def test_a_failing_test_stores_nothing_and_keeps_the_working_credentials(api, hub_app):
    refused = await api.error("POST", f"{PATH}/connect", {**GOOD, "credentials": {"apiKey": "wrongkey123", "account": "a"}},
                              status=400, code="INTEGRATION_CONNECTION_FAILED")
    assert "keys start with nc_" in refused["message"] and refused["details"]["integration"] == "notes-cloud"
    assert (await api.get(PATH))["status"] == "disconnected"
    async with hub_app.app_context():
        assert await StoredCredential.filter(org_id=api.org_id).count() == 0

    await api.call("POST", f"{PATH}/connect", GOOD)
    await api.error("POST", f"{PATH}/connect", {"credentials": {"apiKey": "typo-typo-typo", "account": "acme"}},
                    status=400, code="INTEGRATION_CONNECTION_FAILED")
    async with hub_app.app_context():
        kept = await integration_credentials(api.org_id, "notes-cloud")
    assert kept.api_key.get_secret_value() == "nc_0123456789abcdef"


@pytest.mark.parametrize("body, field", [
    ({"credentials": {"account": "acme"}}, "credentials.apiKey"),                          # missing
    ({"credentials": {"apiKey": "nc_short", "account": ""}}, "credentials.account"),      # too short
    ({"credentials": {**GOOD["credentials"], "extra": "x"}}, "credentials.extra"),        # unknown field
    ({**GOOD, "config": {"syncFrequency": "every second"}}, "config.syncFrequency"),
    ({"config": {}}, "credentials"),                                                      # no credentials at all
])
async def test_bad_connect_bodies_are_400_naming_the_field_without_echoing_secrets(api, body, field):
    error = await api.error("POST", f"{PATH}/connect", body, status=400, code="VALIDATION_ERROR")
    assert field in [problem["field"] for problem in error["details"]["errors"]], error
    assert "nc_0123456789abcdef" not in str(error) and "nc_short" not in str(error)


async def test_failures_reported_by_a_plugin_show_as_error_with_secrets_scrubbed(api, hub_app, events):
    await api.call("POST", f"{PATH}/connect", GOOD)
    async with hub_app.app_context():
        await integration_failed(api.org_id, "notes-cloud", "401 from Notes Cloud for key nc_0123456789abcdef")
    body = await api.get(PATH)
    assert body["status"] == "error" and body["lastErrorAt"]
    assert body["lastError"] == "401 from Notes Cloud for key \u2022\u2022\u2022\u2022"
    event = await events.wait_for(api.org_id, "integration.error")
    assert event.data["status"] == "error" and "nc_0123" not in event.data["error"]

    async with hub_app.app_context():
        await integration_synced(api.org_id, "notes-cloud")
    body = await api.get(PATH)
    assert body["status"] == "connected" and body["lastError"] is None and body["lastSync"]


async def test_testing_again_marks_error_when_the_stored_credentials_stop_working(api, hub_app, events):
    await api.error("POST", f"{PATH}/test", None, status=409, code="CONFLICT")  # not connected
    await api.call("POST", f"{PATH}/connect", GOOD)
    assert (await api.call("POST", f"{PATH}/test"))["status"] == "connected"
    async with hub_app.app_context():  # the plugin's provider now refuses it (a revoked key)
        await StoredCredential.filter(org_id=api.org_id).delete()
        from core import save_credentials
        await save_credentials(api.org_id, "example", "notes-cloud", {"api_key": "revoked-0123456789", "account": "acme"})
    body = await api.call("POST", f"{PATH}/test")
    assert body["status"] == "error" and "keys start with nc_" in body["lastError"]
    assert (await events.wait_for(api.org_id, "integration.error")).data["integration"] == "notes-cloud"


async def test_credentials_given_to_test_are_tried_and_not_stored(api, hub_app):
    body = await api.call("POST", f"{PATH}/test", {"credentials": GOOD["credentials"]})
    assert body["status"] == "disconnected"
    await api.error("POST", f"{PATH}/test", {"credentials": {"apiKey": "wrongkey123", "account": "a"}},
                    status=400, code="INTEGRATION_CONNECTION_FAILED")
    async with hub_app.app_context():
        assert await StoredCredential.filter(org_id=api.org_id).count() == 0


async def test_disconnecting_deletes_the_credentials(api, hub_app, events):
    await api.call("POST", f"{PATH}/connect", GOOD)
    body = await api.call("POST", f"{PATH}/disconnect", {"reason": "moving to another provider"})
    assert body["status"] == "disconnected" and body["credentials"] is None
    assert (await api.call("POST", f"{PATH}/disconnect"))["status"] == "disconnected"  # again: a no-op
    async with hub_app.app_context():
        assert await StoredCredential.filter(org_id=api.org_id).count() == 0
        assert await integration_credentials(api.org_id, "notes-cloud") is None
    event = await events.wait_for(api.org_id, "integration.disconnected")
    assert event.data["reason"] == "moving to another provider"


async def test_members_read_masked_admins_manage_other_organizations_see_nothing(api, other_api, member_of, hub_client):
    await api.call("POST", f"{PATH}/connect", GOOD)
    member = Api.of(hub_client, await member_of(api.account, "member"))
    assert (await member.get(PATH))["credentials"]["apiKey"].endswith("cdef")
    for action in ("connect", "test", "disconnect"):
        await member.error("POST", f"{PATH}/{action}", GOOD if action == "connect" else None, status=403, code="FORBIDDEN")
    other = await other_api.get(PATH)
    assert other["status"] == "disconnected" and other["credentials"] is None
    await other_api.error("GET", "/api/integrations/no-such-thing", status=404, code="NOT_FOUND")


async def test_an_integration_of_a_plugin_switched_off_for_the_organization_is_gone(api):
    await api.call("PUT", "/api/v1/plugins/example", {"enabled": False})
    try:
        assert "notes-cloud" not in [i["id"] for i in (await api.get("/api/integrations"))["integrations"]]
        await api.error("GET", PATH, status=404, code="NOT_FOUND")
        await api.error("POST", f"{PATH}/connect", GOOD, status=404, code="NOT_FOUND")
    finally:
        await api.call("PUT", "/api/v1/plugins/example", {"enabled": True})


async def test_credentials_no_key_can_read_show_as_an_error_not_a_server_error(api, hub):
    await api.call("POST", f"{PATH}/connect", GOOD)
    old_secret = hub.signing_key
    hub.signing_key = "a secret changed without previous_secret_keys"
    try:
        body = await api.get(PATH)
        assert body["status"] == "error" and "previous_secret_keys" in body["lastError"]
        assert body["credentials"] is None
        assert (await api.call("POST", f"{PATH}/test"))["status"] == "error"
    finally:
        hub.signing_key = old_secret
    recorded = await api.get(PATH)  # readable again: what the failed test recorded
    assert recorded["status"] == "error" and "cannot be read" in recorded["lastError"]
