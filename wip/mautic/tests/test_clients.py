"""The real Mautic clients from PyPI, unchanged, against a live `hub serve` (one server for
the module): `mautic-cli`'s MauticClient (httpx, JSON; HTTP Basic and OAuth2 client
credentials) and the `mautic` package (requests, form-encoded, HTTP Basic). They create
contacts, page through them, send an email that the SMTP sink receives through the messaging
plugin, and list campaigns; errors reach them in Mautic's shape."""

from __future__ import annotations

import time

import httpx
import pytest
from mautic import (
    Campaigns,
    Contacts,
    Emails,
    MauticBasicAuthClient,
    MauticException,
    Segments,
)
from mautic_cli.client import MauticApiError, MauticClient

from core.testing import PASSWORD, WAIT_SECONDS
from tests.live_server import live_account, live_hub
from tests.plugins.messaging.conftest import smtp_connection


def wait_for(check, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def live(tmp_path_factory, mautic_sink):
    """A live Hub whose organization has its SMTP integration connected to the sink, and an
    API key (with its id: the OAuth2 client id)."""
    env = {"HUB_PLUGINS__MESSAGING__SMTP_ALLOWLIST": "127.0.0.1", "HUB_RATE_LIMITS__ENABLED": "false"}
    with live_hub(tmp_path_factory.mktemp("mautic-live"), env=env) as hub:
        account = live_account(hub.url)
        with httpx.Client(base_url=hub.url, headers=account["headers"], timeout=30) as http:
            connected = http.post("/api/integrations/smtp/connect", json=smtp_connection(mautic_sink))
            assert connected.status_code == 200, connected.text
            key = http.post("/api/v1/keys", json={"name": "mautic oauth client", "scopes": ["read", "write"]})
            assert key.status_code == 201, key.text
        yield {"hub": hub, "email": account["email"], "key": key.json(), "base": hub.url + "/mautic"}


def cli(live, **credentials) -> MauticClient:
    return MauticClient({"base_url": live["base"], **credentials})


def test_mautic_cli_with_basic_auth_creates_pages_sends_and_lists(live, mautic_sink):
    client = cli(live, auth_method="basic", username=live["email"], password=PASSWORD)
    assert client.detect_version() == (5, 1, 1)
    ids = []
    for index in range(5):
        body = client.post("/contacts/new", json={"firstname": f"Cli{index}", "email": f"cli{index}@example.com",
                                                  "tags": ["cli"]})
        ids.append(body["contact"]["id"])
    again = client.post("/contacts/new", json={"email": "cli0@example.com", "lastname": "Zero"})
    assert again["contact"]["id"] == ids[0]  # de-duplicated on email
    paged = list(client.get_all("/contacts", "contacts", limit=2, params={"search": "cli"}))
    assert sorted(contact["id"] for contact in paged) == sorted(ids)
    page = client.get("/contacts", params={"start": 2, "limit": 2, "orderBy": "id", "orderByDir": "ASC"})
    assert page["total"] == 5 and [int(key) for key in page["contacts"]] == ids[2:4]
    email = client.post("/emails/new", json={"name": "Live hello", "subject": "Hello {contactfield=firstname}",
                                             "customHtml": "<p>Hi {contactfield=firstname}</p>"})["email"]
    assert client.post(f"/emails/{email['id']}/contact/{ids[1]}/send", json={}) == {"success": 1}
    mail = wait_for(lambda: mautic_sink.to("cli1@example.com"), "the email")[0]
    assert mail.message["Subject"] == "Hello Cli1"
    segment = client.post("/segments/new", json={"name": "Cli people", "filters": [
        {"glue": "and", "field": "email", "object": "lead", "type": "email", "operator": "like",
         "filter": "cli%"}]})["list"]
    campaign = client.post("/campaigns/new", json={"name": "Live campaign", "isPublished": False,
                                                   "lists": [segment["id"]], "events": [
        {"id": "new1", "name": "Tag them", "type": "lead.changetags", "eventType": "action",
         "properties": {"add_tags": ["campaigned"]}}]})["campaign"]
    listed = client.get("/campaigns", params={"limit": 10})
    assert listed["total"] == 1
    events = listed["campaigns"][str(campaign["id"])]["events"]
    assert [event["type"] for event in events.values()] == ["lead.changetags"]
    # publishing it runs it on the server's jobs: every contact of the segment gets the tag
    client.patch(f"/campaigns/{campaign['id']}/edit", json={"isPublished": True})
    wait_for(lambda: all("campaigned" in [t["tag"] for t in c["tags"]] for c in
                         client.get("/contacts", params={"limit": 10})["contacts"].values()), "the campaign's tags")
    with pytest.raises(MauticApiError) as missing:
        client.get("/contacts/999999")
    assert missing.value.code == 404 and missing.value.message == "Item was not found."
    bad = cli(live, auth_method="basic", username=live["email"], password="wrong password")
    with pytest.raises(MauticApiError) as refused:
        bad.get("/contacts")
    assert refused.value.code == 401 and refused.value.error_type == "access_denied"
    client.close()


def test_mautic_cli_with_oauth2_client_credentials(live):
    client = cli(live, auth_method="oauth2", client_id=live["key"]["id"], client_secret=live["key"]["key"],
                 token_endpoint=live["base"] + "/oauth/v2/token")
    created = client.post("/contacts/new", json={"email": "oauth@example.com", "firstname": "Oauth"})["contact"]
    edited = client.patch(f"/contacts/{created['id']}/edit", json={"city": "Lyon"})["contact"]
    assert edited["fields"]["all"]["city"] == "Lyon" and edited["fields"]["all"]["firstname"] == "Oauth"
    assert client.get(f"/contacts/{created['id']}")["contact"]["id"] == created["id"]
    with pytest.raises(MauticApiError) as refused:
        cli(live, auth_method="oauth2", client_id=live["key"]["id"], client_secret="hub_not-a-key",
            token_endpoint=live["base"] + "/oauth/v2/token")
    assert refused.value.code == 400 and "client credentials" in refused.value.message
    with pytest.raises(MauticApiError) as bad_input:
        client.post("/contacts/new", json={"email": "nope"})
    assert bad_input.value.code == 400 and "email" in bad_input.value.message
    client.close()


def test_the_mautic_package_posts_forms_with_basic_auth(live, mautic_sink):
    session = MauticBasicAuthClient(base_url=live["base"], username=live["email"], password=PASSWORD)
    contacts = Contacts(session)
    created = contacts.create({"firstname": "Form", "lastname": "Poster", "email": "form@example.com",
                               "tags": "form,legacy"})["contact"]
    assert created["fields"]["all"]["lastname"] == "Poster"
    assert [tag["tag"] for tag in created["tags"]] == ["form", "legacy"]
    assert contacts.create({"email": "form@example.com", "city": "Oslo"})["contact"]["id"] == created["id"]
    edited = contacts.edit(created["id"], {"position": "Clerk"})["contact"]
    assert edited["fields"]["all"]["position"] == "Clerk" and edited["fields"]["all"]["city"] == "Oslo"
    listed = contacts.get_list(search="form@example.com", start=0, limit=5, order_by="email")
    assert listed["total"] == 1 and list(listed["contacts"]) == [str(created["id"])]
    assert contacts.add_points(created["id"], 7) == {"success": 1}
    assert contacts.get(created["id"])["contact"]["points"] == 7
    emails = Emails(session)
    email = emails.create({"name": "Form mail", "subject": "For {contactfield=firstname}",
                           "customHtml": "<p>Dear {contactfield=firstname}</p>"})["email"]
    assert emails.send_to_contact(email["id"], created["id"]) == {"success": 1}
    wait_for(lambda: mautic_sink.to("form@example.com"), "the email")
    # do-not-contact blocks the next send
    dnc = contacts.add_dnc(created["id"], channel="email", reason=Contacts.MANUAL, comments="asked to stop")
    assert dnc["contact"]["doNotContact"][0]["reason"] == 3
    blocked = emails.send_to_contact(email["id"], created["id"])
    assert blocked["success"] is False
    assert len(mautic_sink.to("form@example.com")) == 1
    segments = Segments(session)
    static = segments.create({"name": "Form segment"})["list"]
    assert segments.add_contact(static["id"], created["id"]) == {"success": 1}
    assert Campaigns(session).get_list()["total"] >= 0
    with pytest.raises(MauticException) as missing:
        contacts.get(999999)
    assert missing.value.message["errors"][0]["code"] == 404
    assert contacts.delete(created["id"])["contact"]["id"] == created["id"]
    with pytest.raises(MauticException):
        contacts.get(created["id"])
