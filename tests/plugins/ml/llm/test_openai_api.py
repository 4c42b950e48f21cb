"""The OpenAI-compatible API on a live Hub (`hub serve` on 127.0.0.1), driven by the official
`openai` client with strict response validation: models, functions, plain chat, forced and
automatic tool calls, streaming with tool-call deltas, OpenAI-shaped errors, 503s; plus seed
001's /api/ai/completions."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from tests.live_server import live_account, live_hub
from tests.plugins.ml.llm.conftest import live_env


class LeadArgs(BaseModel):
    name: str = Field(min_length=1, max_length=80, description="Full name")
    company: str | None = Field(None, max_length=80)


class WeatherArgs(BaseModel):
    city: str = Field(min_length=1, max_length=60)
    unit: str = Field("celsius", pattern=r"^(celsius|fahrenheit)$")


TOOLS = [
    {"type": "function", "function": {"name": "create_lead", "description": "Create a new lead in the CRM",
                                      "parameters": LeadArgs.model_json_schema()}},
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": WeatherArgs.model_json_schema()}},
]
ARGS = {"create_lead": LeadArgs, "get_weather": WeatherArgs}
MODEL = "SmolLM2-135M-Instruct.Q4_1"


@pytest.fixture(scope="module")
def hub(model_path, tmp_path_factory):
    # queue_limit 0: a request arriving while another generates is refused at once (tested below)
    env = live_env(model_path, HUB_PLUGINS__LLM__QUEUE_LIMIT="0", HUB_PLUGINS__LLM__ALIASES="gpt-3.5-turbo")
    with live_hub(tmp_path_factory.mktemp("llm-live"), env=env) as served:
        yield served


@pytest.fixture(scope="module")
def account(hub):
    return live_account(hub.url)


def client_for(hub, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=hub.url + "/v1", api_key=api_key, max_retries=0, timeout=120,
                              _strict_response_validation=True)


@pytest.fixture
async def ai(hub, account):
    client = client_for(hub, account["api_key"])
    yield client
    await client.close()


def check_call(call) -> dict:
    assert call.type == "function" and call.id
    arguments = json.loads(call.function.arguments)  # a JSON string, as OpenAI sends it
    ARGS[call.function.name].model_validate(arguments)
    return arguments


async def test_models_and_functions(ai, hub, account):
    models = await ai.models.list()
    assert [m.id for m in models.data] == [MODEL, "gpt-3.5-turbo"]
    assert (await ai.models.retrieve(MODEL)).id == MODEL
    response = httpx.get(hub.url + "/v1/functions", headers=account["headers"])
    assert response.status_code == 200 and response.headers["X-Total-Count"] == str(len(response.json()["data"]))
    names = {tool["function"]["name"] for tool in response.json()["data"]}
    assert "create_lead" in names  # the CRM plugin's hub function, with its pydantic schema
    lead = next(t for t in response.json()["data"] if t["function"]["name"] == "create_lead")
    assert lead["type"] == "function" and "name" in lead["function"]["parameters"]["properties"]


async def test_plain_chat(ai):
    completion = await ai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=12)
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length") and not choice.message.tool_calls
    assert completion.usage.completion_tokens <= 12 and completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens)


@pytest.mark.parametrize("tool_choice", [{"type": "function", "function": {"name": "get_weather"}}, "required"],
                         ids=["named", "required"])
async def test_forced_tool_call(ai, tool_choice):
    completion = await ai.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=TOOLS, tool_choice=tool_choice, max_tokens=150)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    if isinstance(tool_choice, dict):
        assert call.function.name == "get_weather"
    check_call(call)


async def test_tool_choice_auto_and_the_tool_result_round_trip(ai):
    messages = [{"role": "user", "content": "Add Jane Doe from Acme as a lead."}]
    completion = await ai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, tool_choice="auto",
                                                  max_tokens=120)
    choice = completion.choices[0]
    assert choice.finish_reason in ("tool_calls", "stop", "length")
    for call in choice.message.tool_calls or []:
        check_call(call)
    # the tool result goes back; the model answers (text or another valid call)
    call_id = "call_1"
    messages += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": "create_lead", "arguments": '{"name": "Jane Doe"}'}}]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"id": "lead-1", "status": "new"}'}]
    follow_up = await ai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, max_tokens=40)
    for call in follow_up.choices[0].message.tool_calls or []:
        check_call(call)
    assert follow_up.usage.prompt_tokens > completion.usage.prompt_tokens


async def test_streaming_tool_call_deltas(ai):
    stream = await ai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Create a lead for Bob Stone at Initech."}],
        tools=TOOLS, tool_choice={"type": "function", "function": {"name": "create_lead"}}, max_tokens=150,
        stream=True, stream_options={"include_usage": True})
    ids, names, pieces, finish, usage = set(), [], [], None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                assert delta.index == 0
                if delta.id:
                    ids.add(delta.id)
                if delta.function and delta.function.name:
                    names.append(delta.function.name)
                if delta.function and delta.function.arguments:
                    pieces.append(delta.function.arguments)
            finish = choice.finish_reason or finish
    assert finish == "tool_calls" and names == ["create_lead"] and len(ids) == 1
    assert len(pieces) > 1  # incremental
    LeadArgs.model_validate(json.loads("".join(pieces)))
    assert usage is not None and usage.completion_tokens > 0


async def test_streaming_text_ends_with_done(hub, account):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "stream": True}
    with httpx.stream("POST", hub.url + "/v1/chat/completions", json=body, headers=account["headers"],
                      timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


async def test_errors_are_openai_shaped(ai, hub, account):
    with pytest.raises(openai.BadRequestError) as bad:
        await ai.chat.completions.create(model=MODEL, messages=[], max_tokens=5)
    assert bad.value.status_code == 400 and bad.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as bad_choice:
        await ai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], tools=TOOLS,
                                         tool_choice={"type": "function", "function": {"name": "nope"}})
    assert bad_choice.value.body["param"] == "tool_choice"
    with pytest.raises(openai.NotFoundError) as unknown:
        await ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert unknown.value.code == "model_not_found" and unknown.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.AuthenticationError):
        await client_for(hub, "hub_not-a-real-key").models.list()
    read_only = live_account(hub.url, scopes=["read"])  # a key without llm.chat
    async with client_for(hub, read_only["api_key"]) as reader:
        assert (await reader.models.list()).data  # llm.models.read: allowed
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await reader.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert denied.value.status_code == 403
    raw = httpx.post(hub.url + "/v1/chat/completions", json={"model": MODEL}, headers=account["headers"])
    assert set(raw.json()["error"]) >= {"message", "type", "param", "code"} and raw.headers["X-Request-ID"]
    # outside /v1 the Hub's own envelope
    raw = httpx.post(hub.url + "/api/ai/completions", json={"model": MODEL}, headers=account["headers"])
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_busy_model_answers_503_with_retry_after(ai, hub, account):
    stream = await ai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Tell a very long story about dragons."}],
        max_tokens=300, stream=True)
    first = await stream.__anext__()  # the model is generating for this request now
    assert first.choices[0].delta.role == "assistant"
    try:
        with pytest.raises(openai.APIStatusError) as busy:  # queue_limit = 0
            await ai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        assert busy.value.status_code == 503 and busy.value.response.headers["Retry-After"]
        assert busy.value.code == "ai_service_unavailable"
    finally:
        await stream.close()  # the client leaves: the server cancels the generation
    for _ in range(50):  # and the model is free again shortly
        try:
            done = await ai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                                    max_tokens=4)
            break
        except openai.APIStatusError as error:
            assert error.status_code == 503
            await asyncio.sleep(0.2)
    assert done.choices[0].finish_reason in ("stop", "length")


async def test_seed_001_ai_completions(hub, account):
    response = httpx.post(hub.url + "/api/ai/completions", headers=account["headers"], timeout=120, json={
        "model": "gpt-3.5-turbo", "prompt": "What's the weather in Oslo?", "max_tokens": 100,
        "functions": [t["function"] for t in TOOLS], "function_call": {"name": "get_weather"},
        "context": ["The user is in Norway."]})
    body = response.json()
    assert response.status_code == 200, body
    assert body["object"] == "text_completion" and body["cost_estimate"] == 0
    choice = body["choices"][0]
    assert choice["finish_reason"] == "function_call" and choice["message"]["function_call"]["name"] == "get_weather"
    WeatherArgs.model_validate(json.loads(choice["message"]["function_call"]["arguments"]))
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    health = httpx.get(hub.url + "/health").json()
    assert health["checks"]["llm"] == "healthy"


def test_no_model_file_is_a_503_naming_the_setting(tmp_path):
    with live_hub(tmp_path, env=live_env(tmp_path / "missing.gguf")) as served:
        account = live_account(served.url)
        response = httpx.post(served.url + "/v1/chat/completions", headers=account["headers"],
                              json={"model": "missing", "messages": [{"role": "user", "content": "Hi"}]})
        error = response.json()["error"]
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "plugins.llm.model_path" in error["message"] and "hub llm fetch-model" in error["message"]
        assert httpx.get(served.url + "/health").json()["checks"]["llm"] == "unhealthy"
