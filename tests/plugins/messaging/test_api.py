"""The messages API around the providers: listing with filters and pages, one message with its
history, another organization's ids (404), who may send and read, bad input (addresses,
attachments, bodies), and sending from a hub function and from workflow nodes."""

from __future__ import annotations

import base64

import pytest

from core.tenancy.functions import available_functions, call_function
from tests.plugins.messaging.conftest import sent
from tests.plugins.workflows.support import WorkflowApi, edge, node, steps_by_node, workflow

EMAIL, SMS, MESSAGES = "/api/v1/messages/email", "/api/v1/messages/sms", "/api/v1/messages"


def email(**fields) -> dict:
    return {"to": ["ada@example.com"], "subject": "Hello", "content": {"text": "Hi"}, **fields}


async def test_list_filters_and_pages_and_another_organization_sees_nothing(smtp_api, twilio_api, other_api):
    first = await sent(smtp_api, await smtp_api.call("POST", EMAIL, email(), status=202))
    failed = await sent(smtp_api, await smtp_api.call("POST", EMAIL, email(to=["nobody@example.com"]), status=202))
    sms = await sent(twilio_api, await twilio_api.call("POST", SMS, {"to": "+14155550111", "message": "hi"}, status=202))
    listed = await smtp_api.get(MESSAGES)
    assert listed["total"] == 3 and [m["id"] for m in listed["messages"]] == [sms["id"], failed["id"], first["id"]]
    assert [m["id"] for m in (await smtp_api.get(f"{MESSAGES}?channel=sms"))["messages"]] == [sms["id"]]
    assert [m["id"] for m in (await smtp_api.get(f"{MESSAGES}?status=failed"))["messages"]] == [failed["id"]]
    assert (await smtp_api.get(f"{MESSAGES}?status=sent&channel=email"))["total"] == 1
    page = await smtp_api.get(f"{MESSAGES}?limit=2&offset=2")
    assert [m["id"] for m in page["messages"]] == [first["id"]] and page["pagination"]["has_more"] is False
    await smtp_api.error("GET", f"{MESSAGES}?status=lost", status=400, code="VALIDATION_ERROR")

    assert (await other_api.get(MESSAGES))["total"] == 0
    for message_id in (first["id"], sms["id"]):
        await other_api.error("GET", f"{MESSAGES}/{message_id}", status=404, code="NOT_FOUND")
    await smtp_api.error("GET", f"{MESSAGES}/not-an-id", status=404, code="NOT_FOUND")


async def test_viewers_read_members_send_and_keys_need_the_scope(smtp_api, api_of):
    accepted = await smtp_api.call("POST", EMAIL, email(), status=202)
    viewer = await api_of(role="viewer")
    assert (await viewer.get(f"{MESSAGES}/{accepted['id']}"))["id"] == accepted["id"]
    await viewer.error("POST", EMAIL, email(), status=403, code="FORBIDDEN")
    await viewer.error("POST", f"{MESSAGES}/templates", {"name": "x", "text": "y"}, status=403, code="FORBIDDEN")
    member = await api_of(role="member")
    assert (await member.call("POST", EMAIL, email(), status=202))["status"] == "queued"
    reader = await api_of(key=["messaging.read"])
    await reader.error("POST", EMAIL, email(), status=403, code="FORBIDDEN")
    assert (await reader.get(MESSAGES))["total"] >= 2
    sender = await api_of(key=["messaging.send"])
    await sender.call("POST", EMAIL, email(), status=202)
    await sent(smtp_api, accepted)


@pytest.mark.parametrize("body, field", [
    (email(to=[]), "to"),
    (email(to=["not-an-address"]), "to.0"),
    (email(cc=["a@b"]), "cc.0"),
    (email(bcc=["x@example.com"] * 51), "bcc"),
    (email(**{"from": "me at example"}), "from"),
    (email(subject="Hi\r\nBcc: everyone@example.com"), "subject"),  # no header injection
    (email(subject=None), None),  # neither a subject nor a template
    (email(content=None), None),
    (email(attachments=[{"filename": "a.txt", "content": "not base64!"}]), "attachments.0.content"),
    (email(attachments=[{"filename": "../etc/passwd", "content": "aGk="}]), "attachments.0.filename"),
    (email(template_data={"x": "y" * 70_000}, template_id="5f1c2b8e-3b7a-4c1e-9d0a-2a4b6c8d0e1f"), "template_data"),
    (email(provider="pigeon"), "provider"),
    (email(unknown=True), "unknown"),
])
async def test_bad_emails_are_400(smtp_api, body, field):
    error = await smtp_api.error("POST", EMAIL, body, status=400, code="VALIDATION_ERROR")
    if field is not None:
        fields = [problem.get("field") for problem in error["details"].get("errors", [error["details"]])]
        assert field in fields, error


async def test_attachments_over_the_limit_are_413(smtp_api, hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("messaging"), "max_attachment_bytes", 1000)
    small = base64.b64encode(b"x" * 600).decode()
    error = await smtp_api.error("POST", EMAIL, email(attachments=[{"filename": "a", "content": small},
                                                                   {"filename": "b", "content": small}]),
                                 status=413, code="PAYLOAD_TOO_LARGE")
    assert error["details"] == {"field": "attachments", "size": 1200, "limit": 1000}
    monkeypatch.setattr(hub.plugin_settings("messaging"), "max_attachments", 1)
    await smtp_api.error("POST", EMAIL, email(attachments=[{"filename": "a", "content": "aGk="}] * 2), status=400,
                         code="VALIDATION_ERROR")
    assert (await smtp_api.get(MESSAGES))["total"] == 0  # nothing was queued


async def test_hub_functions_send_email_and_sms(smtp_api, twilio_api, hub, hub_app, smtp_sink):
    from core.tenancy.principals import principal_from_credential

    async with hub_app.app_context():
        principal = await principal_from_credential(smtp_api.account.access_token)
        assert {"send_email", "send_sms"} <= {f.name for f in await available_functions(hub, principal)}
        queued = await call_function(hub, principal, "send_email", email(to=["function@example.com"]))
        texted = await call_function(hub, principal, "send_sms", {"to": "+14155550122", "message": "from a model"})
    assert queued["status"] == "queued" and texted["status"] == "queued"
    assert (await sent(smtp_api, queued))["status"] == "sent" and smtp_sink.to("function@example.com")
    assert (await sent(twilio_api, texted))["status"] == "sent"


async def test_workflow_nodes_email_sender_and_sms_sender(hub_client, smtp_api, twilio_api, smtp_sink, fake_twilio):
    flows = WorkflowApi.of(hub_client, smtp_api.account)
    mailing = await flows.create_workflow(workflow("Notify", [
        node("start", "webhook-trigger"), node("mail", "email-sender", {"subject": "New lead", "text": "A lead arrived"}),
    ], [edge("start", "mail")]))
    # the node's input carries the recipients (and could carry any field of the email)
    execution = await flows.run(mailing["id"], {"to": ["workflow@example.com"]})
    assert execution["status"] == "completed", execution
    queued = steps_by_node(execution)["mail"]["output_data"]["main"]
    assert queued["status"] == "queued" and queued["channel"] == "email"
    assert (await sent(smtp_api, queued))["subject"] == "New lead" and smtp_sink.to("workflow@example.com")

    texting = await flows.create_workflow(workflow("Text", [
        node("start", "webhook-trigger"), node("text", "sms-sender", {"message": "A lead arrived"}),
    ], [edge("start", "text")]))
    execution = await flows.run(texting["id"], {"to": "+14155550133"})
    assert execution["status"] == "completed", execution
    assert (await sent(twilio_api, steps_by_node(execution)["text"]["output_data"]["main"]))["status"] == "sent"
    assert [sms["Body"] for sms in fake_twilio.to("+14155550133")] == ["A lead arrived"]
    # an email address is no phone number: the node fails the step, naming the field
    failed = await flows.run(texting["id"], {"to": "ada@example.com"})
    step = steps_by_node(failed)["text"]
    assert failed["status"] == "failed" and step["status"] == "failed"
    assert "to: String should match pattern" in step["error_message"]
