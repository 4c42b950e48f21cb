"""Templates per organization: Jinja2 in an immutable sandbox (no Python internals), HTML
autoescaped, a preview, a text part made from the HTML, and `template_id` + `template_data` in
a send."""

from __future__ import annotations

import pytest

from tests.plugins.messaging.conftest import sent

TEMPLATES = "/api/v1/messages/templates"
WELCOME = {"name": "welcome", "subject": "Welcome, {{ name }}",
           "html": "<p>Hello <b>{{ name }}</b>, your plan is {{ plan | upper }}.</p>"}


async def test_crud_and_pages(api):
    created = await api.call("POST", TEMPLATES, WELCOME, status=201)
    assert created["channel"] == "email" and created["name"] == "welcome"
    await api.error("POST", TEMPLATES, WELCOME, status=409, code="CONFLICT")
    await api.call("POST", TEMPLATES, {"name": "code", "channel": "sms", "text": "Code {{ code }}"}, status=201)
    page = await api.get(f"{TEMPLATES}?limit=1")
    assert page["total"] == 2 and [t["name"] for t in page["templates"]] == ["code"]
    assert page["pagination"]["has_more"] is True
    changed = await api.put(f"{TEMPLATES}/{created['id']}", {"subject": "Hi {{ name }}"})
    assert changed["subject"] == "Hi {{ name }}" and changed["html"] == WELCOME["html"]
    assert (await api.get(f"{TEMPLATES}/{created['id']}"))["subject"] == "Hi {{ name }}"
    await api.call("DELETE", f"{TEMPLATES}/{created['id']}", status=204)
    await api.error("GET", f"{TEMPLATES}/{created['id']}", status=404, code="NOT_FOUND")


async def test_preview_escapes_html_and_makes_the_text_part(api):
    created = await api.call("POST", TEMPLATES, WELCOME, status=201)
    preview = await api.call("POST", f"{TEMPLATES}/{created['id']}/preview",
                             {"template_data": {"name": "<script>x</script>", "plan": "pro"}})
    assert preview["subject"] == "Welcome, <script>x</script>"  # a header is not HTML
    assert preview["html"] == "<p>Hello <b>&lt;script&gt;x&lt;/script&gt;</b>, your plan is PRO.</p>"
    assert preview["text"] == "Hello <script>x</script>, your plan is PRO."
    missing = await api.error("POST", f"{TEMPLATES}/{created['id']}/preview", {"template_data": {"plan": "pro"}},
                              status=400, code="TEMPLATE_ERROR")
    assert "'name' is undefined" in missing["message"]


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ data.__class__ }}",
    "{% set x = data.update({'a': 1}) %}{{ x }}",  # immutable: no changing what it was given
])
async def test_templates_reaching_for_python_internals_fail_safely(api, expression):
    created = await api.call("POST", TEMPLATES, {"name": f"evil {expression}", "text": expression}, status=201)
    error = await api.error("POST", f"{TEMPLATES}/{created['id']}/preview", {"template_data": {"data": {"a": 0}}},
                            status=400, code="TEMPLATE_ERROR")
    assert error["details"]["field"] == "text" and error["details"]["reason"] == "unsafe", error
    assert "class 'str'" not in str(error) and "subclasses" not in error["message"].split(":")[0]


async def test_a_template_that_does_not_parse_is_refused_when_saved(api):
    error = await api.error("POST", TEMPLATES, {"name": "broken", "html": "<p>{% if x %}</p>"}, status=400,
                            code="TEMPLATE_ERROR")
    assert error["details"]["field"] == "html"


async def test_sending_with_a_template(smtp_api, smtp_sink):
    created = await smtp_api.call("POST", TEMPLATES, WELCOME, status=201)
    accepted = await smtp_api.call("POST", "/api/v1/messages/email", {
        "to": ["templated@example.com"], "template_id": created["id"],
        "template_data": {"name": "Ada & Co", "plan": "pro"}}, status=202)
    message = await sent(smtp_api, accepted)
    assert message["status"] == "sent" and message["subject"] == "Welcome, Ada & Co"
    assert message["template_id"] == created["id"]
    [mail] = smtp_sink.to("templated@example.com")
    assert mail.message["Subject"] == "Welcome, Ada & Co"
    assert "<b>Ada &amp; Co</b>" in mail.message.get_body(("html",)).get_content()
    assert mail.message.get_body(("plain",)).get_content().strip() == "Hello Ada & Co, your plan is PRO."
    # a variable the data lacks: refused before anything is queued
    await smtp_api.error("POST", "/api/v1/messages/email", {"to": ["x@example.com"], "template_id": created["id"],
                                                            "template_data": {"plan": "pro"}},
                         status=400, code="TEMPLATE_ERROR")
    # an SMS template for an email, and another organization's or no template
    sms = await smtp_api.call("POST", TEMPLATES, {"name": "sms", "channel": "sms", "text": "hi"}, status=201)
    await smtp_api.error("POST", "/api/v1/messages/email", {"to": ["x@example.com"], "template_id": sms["id"]},
                         status=400, code="VALIDATION_ERROR")


async def test_templates_of_another_organization_are_not_found(api, other_api):
    created = await api.call("POST", TEMPLATES, WELCOME, status=201)
    for method, path, body in (("GET", f"{TEMPLATES}/{created['id']}", None),
                               ("PUT", f"{TEMPLATES}/{created['id']}", {"subject": "x"}),
                               ("DELETE", f"{TEMPLATES}/{created['id']}", None),
                               ("POST", f"{TEMPLATES}/{created['id']}/preview", {"template_data": {}}),
                               ("POST", "/api/v1/messages/email", {"to": ["a@example.com"], "template_id": created["id"]})):
        await other_api.error(method, path, body, status=404, code="NOT_FOUND")
    assert (await other_api.get(TEMPLATES))["total"] == 0
    assert (await api.get(f"{TEMPLATES}/{created['id']}"))["subject"] == WELCOME["subject"]
