"""Segments, emails and campaigns through Mautic's API in-process, with email delivered by
the messaging plugin to an SMTP sink: filter segments that follow contact changes, tokens,
do-not-contact and unsubscribe, the open pixel and click redirects (only to the email's own
links), campaigns that run for a segment's contacts and record each contact's progress, the
CRM link both ways, and OAuth2 client credentials."""

from __future__ import annotations

import re

from core.testing import Api
from plugins.integrations.mautic import campaigns as campaign_runner
from plugins.integrations.mautic.models import MauticCampaignLog
from tests.plugins.mautic.conftest import wait_until
from tests.plugins.mautic.test_contacts import (
    CONTACTS,
    assert_mautic_error,
    new_contact,
)

SEGMENTS, EMAILS, CAMPAIGNS = "/mautic/api/segments", "/mautic/api/emails", "/mautic/api/campaigns"
HTML = ('<html><body><p>Hello {contactfield=firstname|friend}, see <a href="https://example.org/offer?a=1&amp;b=2">'
        'the offer</a> or <a href="{unsubscribe_url}">unsubscribe</a>.</p></body></html>')


def html_of(mail) -> str:
    return mail.message.get_body(("html",)).get_content()


def links(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'(?:href|src)="([^"]+)"', html)]


def local(url: str) -> str:
    return url.removeprefix("http://hub.test")


async def new_email(mautic: Api, **fields) -> dict:
    body = {"name": "Welcome", "subject": "Hi {contactfield=firstname}", "customHtml": HTML,
            "plainText": "Hello {contactfield=firstname}", **fields}
    return (await mautic.post(f"{EMAILS}/new", body))["email"]


async def test_filter_segments_follow_contact_changes_and_static_ones_do_not(mautic, other_mautic):
    segment = (await mautic.post(f"{SEGMENTS}/new", {"name": "VIP customers", "filters": [
        {"glue": "and", "field": "tags", "object": "lead", "type": "tags", "operator": "in", "filter": ["vip"]},
        {"glue": "and", "field": "points", "object": "lead", "type": "number", "operator": "gte", "filter": 10}]}))["list"]
    assert segment["alias"] == "vip-customers" and len(segment["filters"]) == 2
    vip = await new_contact(mautic, email="vip@example.com", tags=["vip"])
    members = f"/mautic/api/contacts/{vip['id']}/segments"
    assert (await mautic.get(members))["total"] == 0
    await mautic.call("POST", f"{CONTACTS}/{vip['id']}/points/plus/10")
    assert list((await mautic.get(members))["lists"]) == [str(segment["id"])]
    await mautic.call("PATCH", f"{CONTACTS}/{vip['id']}/edit", {"tags": ["-vip"]})
    assert (await mautic.get(members))["total"] == 0
    # a static segment: members by hand only
    static = (await mautic.post(f"{SEGMENTS}/new", {"name": "Hand picked"}))["list"]
    assert await mautic.call("POST", f"{SEGMENTS}/{static['id']}/contact/{vip['id']}/add") == {"success": 1}
    assert list((await mautic.get(members))["lists"]) == [str(static["id"])]
    listed = await mautic.get(SEGMENTS)
    assert listed["total"] == 2 and set(listed["lists"]) == {str(segment["id"]), str(static["id"])}
    # changing the filters recomputes the members
    await mautic.call("PATCH", f"{SEGMENTS}/{segment['id']}/edit", {"filters": [
        {"glue": "and", "field": "email", "operator": "like", "filter": "%@example.com"}]})
    assert set((await mautic.get(members))["lists"]) == {str(segment["id"]), str(static["id"])}
    assert_mautic_error(*await mautic.request("POST", f"{SEGMENTS}/new", {"name": "x", "filters": [
        {"field": "email", "operator": "sounds-like", "filter": "a"}]}), 400)
    # another organization's segment and contact ids are 404
    for method, path in (("GET", f"{SEGMENTS}/{segment['id']}"), ("DELETE", f"{SEGMENTS}/{segment['id']}/delete"),
                         ("POST", f"{SEGMENTS}/{static['id']}/contact/{vip['id']}/remove")):
        assert_mautic_error(*await other_mautic.request(method, path), 404)
    assert (await mautic.get(f"{SEGMENTS}/{segment['id']}"))["list"]["name"] == "VIP customers"


async def test_email_to_a_contact_with_tokens_tracking_and_unsubscribe(mailing, mautic_sink, other_mautic):
    contact = await new_contact(mailing, firstname="Ada", email="ada.track@example.com")
    email = await new_email(mailing)
    assert email["customHtml"] == HTML and email["emailType"] == "template"
    sent = await mailing.call("POST", f"{EMAILS}/{email['id']}/contact/{contact['id']}/send",
                              {"tokens": {"promo": "X1"}})
    assert sent == {"success": 1}
    mail = (await wait_until(lambda: mautic_sink.to("ada.track@example.com"), "the email"))[0]
    assert mail.message["Subject"] == "Hi Ada"
    html = html_of(mail)
    assert "Hello Ada" in html and "{contactfield" not in html
    click, unsubscribe, pixel = links(html)
    assert "/mautic/r/" in click and "/mautic/email/unsubscribe/" in unsubscribe and pixel.endswith(".gif")
    # the click redirect goes to the email's own link, and nowhere else
    response = await mailing.client.get(local(click))
    assert response.status_code == 302 and response.headers["Location"] == "https://example.org/offer?a=1&b=2"
    forged = local(click).split("?")[0] + "?url=https%3A%2F%2Fevil.example%2F"
    assert (await mailing.client.get(forged)).status_code == 404
    # the pixel: a GIF, and the email counts as read
    response = await mailing.client.get(local(pixel))
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    stats = (await mailing.get(f"{EMAILS}/{email['id']}"))["email"]
    assert stats["sentCount"] == 1 and stats["readCount"] == 1
    # unsubscribing marks the contact do-not-contact for email: the next send is refused
    response = await mailing.client.get(local(unsubscribe))
    assert response.status_code == 200 and "unsubscribed" in (await response.get_data(as_text=True))
    dnc = (await mailing.get(f"{CONTACTS}/{contact['id']}"))["contact"]["doNotContact"]
    assert [(row["channel"], row["reason"]) for row in dnc] == [("email", 1)]
    refused = await mailing.call("POST", f"{EMAILS}/{email['id']}/contact/{contact['id']}/send")
    assert refused["success"] is False and "do-not-contact" in refused["failed"][0]
    assert len(mautic_sink.to("ada.track@example.com")) == 1
    assert_mautic_error(*await other_mautic.request("POST", f"{EMAILS}/{email['id']}/contact/{contact['id']}/send"),
                        404)
    assert_mautic_error(*await other_mautic.request("GET", f"{EMAILS}/{email['id']}"), 404)


async def test_do_not_contact_blocks_a_send_and_segment_emails_skip_it(mailing, mautic_sink):
    segment = (await mailing.post(f"{SEGMENTS}/new", {"name": "Everyone at seg.example.com", "filters": [
        {"field": "email", "operator": "like", "filter": "%@seg.example.com"}]}))["list"]
    one = await new_contact(mailing, firstname="One", email="one@seg.example.com")
    two = await new_contact(mailing, firstname="Two", email="two@seg.example.com")
    blocked = await new_contact(mailing, firstname="Three", email="three@seg.example.com")
    await new_contact(mailing, firstname="Out", email="out@other.example.com")
    await mailing.call("POST", f"{CONTACTS}/{blocked['id']}/dnc/email/add", {"reason": 3})
    refused = await mailing.call("POST", f"{EMAILS}/{(await new_email(mailing))['id']}/contact/{blocked['id']}/send")
    assert refused["success"] is False
    email = await new_email(mailing, name="Newsletter", emailType="list", lists=[segment["id"]])
    assert [row["id"] for row in email["lists"]] == [segment["id"]]
    body = await mailing.call("POST", f"{EMAILS}/{email['id']}/send")
    assert body == {"success": 1, "sentCount": 2, "failedRecipients": 0, "failedCount": 0}
    await wait_until(lambda: mautic_sink.to("one@seg.example.com") and mautic_sink.to("two@seg.example.com"), "both emails")
    assert not mautic_sink.to("three@seg.example.com") and not mautic_sink.to("out@other.example.com")
    # sent once: a second send has no one left
    assert (await mailing.call("POST", f"{EMAILS}/{email['id']}/send"))["sentCount"] == 0
    assert one["id"] != two["id"]


async def test_a_campaign_runs_for_its_segment_and_records_each_contacts_progress(mailing, mautic_sink, hub_app,
                                                                                   other_mautic):
    segment = (await mailing.post(f"{SEGMENTS}/new", {"name": "Trial users", "filters": [
        {"field": "email", "operator": "endsWith", "filter": "@trial.example.com"}]}))["list"]
    ada = await new_contact(mailing, firstname="Ada", email="ada@trial.example.com")
    bob = await new_contact(mailing, firstname="Bob", email="bob@trial.example.com")
    await mailing.call("POST", f"{CONTACTS}/{bob['id']}/dnc/email/add", {"reason": 3})
    email = await new_email(mailing, name="Trial welcome")
    created = await mailing.post(f"{CAMPAIGNS}/new", {
        "name": "Trial onboarding", "isPublished": True, "lists": [segment["id"]], "events": [
            {"id": "new1", "name": "Welcome", "type": "email.send", "eventType": "action",
             "properties": {"email": email["id"]}, "triggerMode": "immediate"},
            {"id": "new2", "name": "Opened?", "type": "email.open", "eventType": "decision", "parent": "new1"},
            {"id": "new3", "name": "Reward", "type": "lead.changepoints", "eventType": "action", "parent": "new2",
             "decisionPath": "yes", "properties": {"points": 5}},
            {"id": "new4", "name": "Two days later", "type": "lead.changetags", "eventType": "action",
             "parent": "new1", "properties": {"add_tags": ["followed-up"]}, "triggerMode": "interval",
             "triggerInterval": 2, "triggerIntervalUnit": "d"}]})
    campaign = created["campaign"]
    events = {event["name"]: event for event in campaign["events"].values()}
    assert list(campaign["events"]) == [str(event["id"]) for event in campaign["events"].values()]
    assert events["Opened?"]["parent"] == {"id": events["Welcome"]["id"]}
    assert events["Welcome"]["children"] == [{"id": events["Opened?"]["id"]}, {"id": events["Two days later"]["id"]}]
    mail = (await wait_until(lambda: mautic_sink.to("ada@trial.example.com"), "the campaign's email"))[0]
    progress = f"{CAMPAIGNS}/{campaign['id']}/events/contact/{ada['id']}"

    async def statuses(contact_id) -> dict:
        body = await mailing.get(f"{CAMPAIGNS}/{campaign['id']}/events/contact/{contact_id}")
        return {entry["event"]["name"]: entry["status"] for entry in body["events"]}

    await wait_until(lambda: statuses(bob["id"]), "bob's progress")
    assert await statuses(ada["id"]) == {"Welcome": "executed", "Opened?": "pending", "Two days later": "scheduled"}
    assert (await statuses(bob["id"]))["Welcome"] == "failed"  # do-not-contact
    assert not mautic_sink.to("bob@trial.example.com")
    scheduled = next(e for e in (await mailing.get(progress))["events"] if e["status"] == "scheduled")
    assert scheduled["isScheduled"] and scheduled["triggerDate"]
    contacts = await mailing.get(f"{CAMPAIGNS}/{campaign['id']}/contacts")
    assert contacts["total"] == 2 and {row["lead_id"] for row in contacts["contacts"]} == {str(ada["id"]),
                                                                                           str(bob["id"])}
    # the open decision: opening the email runs the "yes" path
    pixel = links(html_of(mail))[-1]
    await mailing.client.get(local(pixel))
    assert (await statuses(ada["id"]))["Reward"] == "executed"
    assert (await mailing.get(f"{CONTACTS}/{ada['id']}"))["contact"]["points"] == 5
    # the wait: once its time has come, the periodic run does it
    async with hub_app.app_context():
        await MauticCampaignLog.filter(campaign_id=campaign["id"], status="scheduled").update(
            trigger_at=scheduled_past())
        assert await campaign_runner.run_due() >= 1
    assert (await statuses(ada["id"]))["Two days later"] == "executed"
    tags = (await mailing.get(f"{CONTACTS}/{ada['id']}"))["contact"]["tags"]
    assert [tag["tag"] for tag in tags] == ["followed-up"]
    # a contact who joins the segment later is taken in
    await new_contact(mailing, firstname="Cy", email="cy@trial.example.com")
    await wait_until(lambda: mautic_sink.to("cy@trial.example.com"), "the late joiner's email")
    listed = await mailing.get(f"{CAMPAIGNS}?published=1&search=onboarding")
    assert listed["total"] == 1 and set(listed["campaigns"][str(campaign["id"])]["events"]) == set(campaign["events"])
    # tenancy and bad input
    assert_mautic_error(*await other_mautic.request("GET", f"{CAMPAIGNS}/{campaign['id']}"), 404)
    assert_mautic_error(*await other_mautic.request("GET", progress), 404)
    assert_mautic_error(*await other_mautic.request("POST", f"{CAMPAIGNS}/new", {
        "name": "steal", "events": [{"id": "new1", "type": "email.send", "properties": {"email": email["id"]}}]}), 404)
    assert_mautic_error(*await mailing.request("POST", f"{CAMPAIGNS}/new", {
        "name": "x", "events": [{"id": "new1", "type": "page.devicehit"}]}), 400)


def scheduled_past():
    from datetime import timedelta

    from core import utcnow

    return utcnow() - timedelta(seconds=1)


async def test_contacts_are_mirrored_with_the_crm_both_ways(mautic, api):
    contact = await new_contact(mautic, firstname="Mira", lastname="Crm", email="mira@crm.example.com", company="Orbit")
    crm = await api.get("/api/contacts?search=mira@crm.example.com")
    rows = crm.get("contacts") or crm.get("items") or crm.get("data")
    assert [row["email"] for row in rows] == ["mira@crm.example.com"] and rows[0]["name"] == "Mira Crm"
    # a contact made in the CRM shows up in Mautic, once
    made = await api.post("/api/contacts", {"name": "Carl Crm", "email": "carl@crm.example.com"})

    async def mirrored():
        return (await mautic.get(f"{CONTACTS}?search=email:carl@crm.example.com"))["total"] == 1

    await wait_until(mirrored, "the CRM contact in Mautic")
    found = next(iter((await mautic.get(f"{CONTACTS}?search=email:carl@crm.example.com"))["contacts"].values()))
    assert found["fields"]["all"]["firstname"] == "Carl" and found["fields"]["all"]["lastname"] == "Crm"
    assert made["email"] == "carl@crm.example.com"
    # Mautic's own contact did not come back as a second one
    assert (await mautic.get(f"{CONTACTS}?search=email:mira@crm.example.com"))["total"] == 1
    listed = await mautic.get(f"{CONTACTS}?search=email:mira@crm.example.com")
    assert list(listed["contacts"]) == [str(contact["id"])]


async def test_oauth2_client_credentials_and_refresh_tokens(hub_client, admin, key_for):
    key = await key_for(admin, ["read", "write"])
    token_url = "/mautic/oauth/v2/token"
    response = await hub_client.post(token_url, form={"grant_type": "client_credentials", "client_id": key["id"],
                                                      "client_secret": key["key"]})
    tokens = await response.get_json()
    assert response.status_code == 200, tokens
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
    bearer = Api(hub_client, {"Authorization": f"Bearer {tokens['access_token']}"}, admin)
    assert (await bearer.get(CONTACTS))["total"] >= 0
    refreshed = await hub_client.post(token_url, form={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": key["id"],
        "client_secret": key["key"]})
    assert refreshed.status_code == 200 and (await refreshed.get_json())["access_token"] != tokens["access_token"]
    reused = await hub_client.post(token_url, form={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": key["id"],
        "client_secret": key["key"]})
    assert reused.status_code == 400 and (await reused.get_json())["error"] == "invalid_grant"
    for form, error in (({"grant_type": "client_credentials", "client_id": key["id"], "client_secret": "hub_wrong"},
                         "invalid_client"),
                        ({"grant_type": "password", "client_id": key["id"], "client_secret": key["key"]},
                         "unsupported_grant_type")):
        response = await hub_client.post(token_url, form=form)
        body = await response.get_json()
        assert response.status_code == 400 and body["error"] == error and body["error_description"], body
    forged = Api(hub_client, {"Authorization": "Bearer mta_forged"}, admin)
    error = assert_mautic_error(*await forged.request("GET", CONTACTS), 401)
    assert error["type"] == "invalid_grant"
    # a revoked key's tokens stop working
    await hub_client.delete(f"/api/v1/keys/{key['id']}", headers=admin.headers)
    assert_mautic_error(*await bearer.request("GET", CONTACTS), 401)
