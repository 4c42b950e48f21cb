"""The runtime on the real model, without HTTP: completions, 100% schema-valid tool calls over a
fixed set of prompts, streaming events, the queue (full, timeout), cancellation, a missing model,
and the plugin's health check, settings and metering through the in-process app."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest
from pydantic import BaseModel, EmailStr, Field

from core.kernel.errors import HubError
from plugins.ml.llm import runtime as llm
from plugins.ml.llm.settings import LLMSettings


class CreateLead(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Full name of the lead")
    email: EmailStr | None = None
    company: str | None = Field(None, max_length=100)


class SearchContacts(BaseModel):
    query: str = Field(min_length=1, max_length=100)
    limit: int = Field(10, ge=1, le=50)


class ScheduleMeeting(BaseModel):
    title: str = Field(min_length=1, max_length=80)
    duration_minutes: int = Field(ge=15, le=240)
    channel: Literal["phone", "video", "onsite"] = "video"


MODELS = {"create_lead": CreateLead, "search_contacts": SearchContacts, "schedule_meeting": ScheduleMeeting}
TOOLS = [{"type": "function", "function": {"name": name, "description": model.__doc__ or name.replace("_", " "),
                                           "parameters": model.model_json_schema()}}
         for name, model in MODELS.items()]

# (prompt, the tool it asks for): the fixed set the validity claim is measured on
PROMPTS = [
    ("Add Maria Garcia from Globex as a new lead, maria@globex.com", "create_lead"),
    ("New lead: Tom Baker, tom.baker@initech.io", "create_lead"),
    ("Please record a lead called Li Wei working at Umbrella.", "create_lead"),
    ("Create a lead for Sarah O'Neil, no email yet.", "create_lead"),
    ("Lead from the fair: Jonas Berg, jonas@berg.de, company Berg GmbH", "create_lead"),
    ("Register prospect Priya Patel (priya@acme.com).", "create_lead"),
    ("Add a lead named Ken Adams.", "create_lead"),
    ("Find contacts named Smith", "search_contacts"),
    ("Search my contacts for anyone at Globex, show 5", "search_contacts"),
    ("Look up the contact with email bob@example.com", "search_contacts"),
    ("Who do we know at Initech? List up to 20.", "search_contacts"),
    ("Search contacts: 'marketing director'", "search_contacts"),
    ("Find the contact Jonas", "search_contacts"),
    ("Schedule a 30 minute video call titled Demo", "schedule_meeting"),
    ("Book a one hour onsite meeting called Quarterly review", "schedule_meeting"),
    ("Set up a 45 minute phone call: Pricing questions", "schedule_meeting"),
    ("Plan a 2 hour workshop onsite named Onboarding", "schedule_meeting"),
    ("Arrange a 15 minute check-in by phone", "schedule_meeting"),
    ("Meeting please: Contract signing, 60 minutes, video", "schedule_meeting"),
    ("Schedule kickoff meeting, 90 minutes", "schedule_meeting"),
]

MAX_TOKENS = 160


def _choice(index: int, expected: str):
    return ("required", {"type": "function", "function": {"name": expected}}, "auto")[index % 3]


async def test_plain_chat(llm_runtime):
    completion = await llm_runtime.complete([{"role": "user", "content": "Say hello in one word."}], max_tokens=16)
    assert isinstance(completion.content, str) and completion.content.strip()
    assert completion.tool_calls == [] and completion.finish_reason in ("stop", "length")
    assert completion.prompt_tokens > 5 and 0 < completion.completion_tokens <= 16
    assert completion.model == "SmolLM2-135M-Instruct.Q4_1" and completion.latency_ms > 0


async def test_every_tool_call_is_schema_valid_over_the_fixed_prompts(llm_runtime):
    calls = 0
    for index, (prompt, expected) in enumerate(PROMPTS):
        choice = _choice(index, expected)
        # auto may answer in prose, which only max_tokens stops: keep that short
        completion = await llm_runtime.complete([{"role": "user", "content": prompt}], tools=TOOLS, tool_choice=choice,
                                                max_tokens=MAX_TOKENS if choice != "auto" else 96)
        if choice != "auto":  # forced: a call, always
            assert completion.finish_reason == "tool_calls", (prompt, completion)
        if isinstance(choice, dict):
            assert [c.name for c in completion.tool_calls] == [expected]
        for call in completion.tool_calls:
            MODELS[call.name].model_validate(call.arguments)  # 100%: any invalid call fails the test
            assert set(call.arguments) <= set(MODELS[call.name].model_fields)
            calls += 1
        if not completion.tool_calls:
            assert completion.content is not None
    assert calls >= 14  # every forced choice (2 of 3) produced one


async def test_xlam_format(llm_settings):
    runtime = llm.runtime_from_settings(llm_settings.model_copy(update={"chat_format": "xlam"}))
    completion = await runtime.complete([{"role": "user", "content": PROMPTS[0][0]}], tools=TOOLS,
                                        tool_choice="required", max_tokens=MAX_TOKENS)
    assert completion.finish_reason == "tool_calls"
    (call,) = completion.tool_calls
    MODELS[call.name].model_validate(call.arguments)
    events = [e async for e in runtime.stream([{"role": "user", "content": PROMPTS[7][0]}], tools=TOOLS,
                                              tool_choice={"type": "function", "function": {"name": "search_contacts"}},
                                              max_tokens=MAX_TOKENS)]
    assert isinstance(events[0], llm.ToolCallStart) and events[0].name == "search_contacts"
    arguments = json.loads("".join(e.text for e in events if isinstance(e, llm.ArgumentsDelta)))
    assert arguments == events[-1].completion.tool_calls[0].arguments  # without xLAM's closing "]}"
    SearchContacts.model_validate(arguments)


async def test_stream_events_reassemble_to_the_call(llm_runtime):
    events = [e async for e in llm_runtime.stream(
        [{"role": "user", "content": PROMPTS[13][0]}], tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "schedule_meeting"}}, max_tokens=MAX_TOKENS)]
    start, *deltas, finished = events
    assert isinstance(start, llm.ToolCallStart) and start.name == "schedule_meeting"
    assert deltas and all(isinstance(d, llm.ArgumentsDelta) for d in deltas)
    assert isinstance(finished, llm.Finished) and finished.completion.finish_reason == "tool_calls"
    arguments = json.loads("".join(d.text for d in deltas))
    assert arguments == finished.completion.tool_calls[0].arguments
    assert finished.completion.tool_calls[0].id == start.id
    ScheduleMeeting.model_validate(arguments)
    text_events = [e async for e in llm_runtime.stream([{"role": "user", "content": "Hi!"}], max_tokens=8)]
    assert all(isinstance(e, llm.ContentDelta) for e in text_events[:-1])
    assert "".join(e.text for e in text_events[:-1]) == text_events[-1].completion.content


async def test_bad_requests(llm_runtime):
    with pytest.raises(HubError) as error:
        await llm_runtime.complete([{"role": "user", "content": "x"}], model="gpt-4")
    assert error.value.code == "NOT_FOUND" and error.value.details["param"] == "model"
    with pytest.raises(HubError) as error:
        await llm_runtime.complete([{"role": "user", "content": "x"}], tools=TOOLS,
                                   tool_choice={"type": "function", "function": {"name": "nope"}})
    assert error.value.code == "VALIDATION_ERROR" and error.value.details["field"] == "tool_choice"
    with pytest.raises(HubError) as error:
        await llm_runtime.complete([{"role": "user", "content": "word " * 3000}], max_tokens=8)
    assert error.value.status == 400 and error.value.details["reason"] == "context_length_exceeded"
    # the model still works afterwards
    assert (await llm_runtime.complete([{"role": "user", "content": "Hi"}], max_tokens=4)).completion_tokens > 0


async def test_queue_full_and_queue_timeout_answer_503(llm_settings):
    runtime = llm.runtime_from_settings(llm_settings.model_copy(update={"queue_limit": 1, "queue_timeout_seconds": 0.5,
                                                                        "retry_after_seconds": 7}))
    holder = runtime.stream([{"role": "user", "content": "Write a long story about the sea."}], max_tokens=400)
    await holder.__anext__()  # generating now: the model is taken
    try:
        waiter = asyncio.ensure_future(runtime.complete([{"role": "user", "content": "Hi"}], max_tokens=4))
        await asyncio.sleep(0.05)  # it waits in the queue (1 place)
        with pytest.raises(HubError) as full:
            await runtime.complete([{"role": "user", "content": "Hi"}], max_tokens=4)
        assert full.value.code == "AI_SERVICE_UNAVAILABLE" and full.value.status == 503
        assert full.value.details["retry_after"] == 7 and full.value.headers["Retry-After"] == "7"
        with pytest.raises(HubError) as timed_out:
            await waiter
        assert timed_out.value.code == "AI_SERVICE_UNAVAILABLE" and "Timed out" in timed_out.value.message
    finally:
        await holder.aclose()  # the client left: generation is cancelled at the next token
    completion = await runtime.complete([{"role": "user", "content": "Hi"}], max_tokens=4)
    assert completion.completion_tokens > 0
    assert runtime.last_finish_reason in ("stop", "length")


async def test_a_closed_stream_cancels_its_generation(llm_runtime):
    events = llm_runtime.stream([{"role": "user", "content": "Count from one to one thousand."}], max_tokens=500)
    await events.__anext__()
    await events.aclose()
    completion = await llm_runtime.complete([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert completion.completion_tokens > 0
    # the runtime recorded the abandoned generation's end before the next one started
    assert llm_runtime.last_finish_reason in ("stop", "length")


async def test_cancelled_generation_is_recorded(llm_runtime):
    events = llm_runtime.stream([{"role": "user", "content": "Count from one to one thousand."}], max_tokens=500)
    await events.__anext__()
    await events.aclose()
    for _ in range(200):  # the worker thread stops at its next token
        if llm_runtime.last_finish_reason == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert llm_runtime.last_finish_reason == "cancelled"


async def test_missing_model_is_a_503_that_says_what_to_configure(tmp_path):
    runtime = llm.runtime_from_settings(LLMSettings(model_path=tmp_path / "nope.gguf"))
    with pytest.raises(HubError) as error:
        await runtime.complete([{"role": "user", "content": "Hi"}])
    assert error.value.code == "AI_SERVICE_UNAVAILABLE" and error.value.status == 503
    assert "plugins.llm.model_path" in error.value.message and "hub llm fetch-model" in error.value.message
    assert error.value.details["retry_after"] > 0
    default = LLMSettings()
    assert default.resolved_model_path(tmp_path) == tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


async def test_hook_hub_health_checks_reports_the_model(client, model_path):
    response = await client.get("/health")
    body = await response.get_json()
    assert body["checks"]["llm"] == "healthy"


async def test_health_without_the_model_or_llama_cpp_names_the_reason(tmp_path, monkeypatch):
    """/health says "unhealthy" for the llm (a raising check), the start-up summary shows why."""
    from core.app import create_app
    from tests.helpers import make_settings

    hub = create_app(make_settings(tmp_path)).extensions["hub"]
    _, check = hub.health_checks["llm"]
    with pytest.raises(RuntimeError, match=r"^no model at .*SmolLM2-135M-Instruct\.Q4_1\.gguf \(hub llm fetch-model\)"):
        await check()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    assert await check() == "healthy"
    real_find_spec = llm.importlib.util.find_spec
    monkeypatch.setattr(llm.importlib.util, "find_spec",
                        lambda name, *args: None if name == "llama_cpp" else real_find_spec(name, *args))
    with pytest.raises(RuntimeError, match="^llama-cpp-python not installed"):
        await check()


async def test_hook_hub_config_validates_llm_settings():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        LLMSettings(threads=0)
    with pytest.raises(ValidationError):
        LLMSettings(chat_format="alpaca")
    assert LLMSettings(threads=2).threads == 2


async def test_quota_is_checked_before_and_tokens_recorded_after(app, admin, model_path):
    from datetime import date

    from core.ops import metering

    hub = app.extensions["hub"]
    async with app.app_context():
        meter = metering.current_meter()
        await llm.check_quota(admin.org_id, 50)
        completion = await llm.complete([{"role": "user", "content": "Hi"}], max_tokens=4)
        await llm.record_tokens(admin.org_id, completion)
        today = date.today()
        usage = await meter.usage(admin.org_id, today.replace(day=1), today)
        assert usage["ai_api_calls"] == 1 and usage["ai_tokens"] == completion.total_tokens
        original = dict(hub.settings.quotas.plans["starter"])
        hub.settings.quotas.plans["starter"]["ai_tokens"] = completion.total_tokens + 10
        meter._limits.clear()
        try:
            with pytest.raises(HubError) as error:
                await llm.check_quota(admin.org_id, 11)
            assert error.value.code == "AI_QUOTA_EXCEEDED" and error.value.status == 429
            assert "Retry-After" in error.value.headers
            await llm.check_quota(admin.org_id, 10)  # exactly at the limit is fine
        finally:
            hub.settings.quotas.plans["starter"] = original
            meter._limits.clear()
