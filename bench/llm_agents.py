"""AI agent runs through the Hub against the same model calls made directly, in the same run.

A live `hub serve` (tests/live_server.py) serves SmolLM2-135M (scripts/fetch_model.py). An
organization creates an agent with one capability, `create_lead`, `toolChoice: create_lead`,
`maxSteps: 2`: every run is a forced, grammar-constrained call of the CRM's create_lead, the
call itself, then an answer without tools. The reference is this process calling
plugins.ml.llm.runtime directly with exactly the messages the agent loop builds (the same
tool, the same tool result), so both sides generate the same tokens (temperature 0).
Runs alternate (Hub run i, then direct pair i), so machine noise hits both alike.

Reported: per side the median and p90 latency; for the Hub also the server's own recorded run
latency (`latencyMs`), the share of runs that succeeded and created their lead, and the ratio
Hub / direct (what HTTP, auth, the run record, events, metering and the CRM function add to
two model calls). Writes bench/results/llm_agents.json.

    .venv/bin/python bench/llm_agents.py              # 10 runs
    .venv/bin/python bench/llm_agents.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import live_hub  # noqa: E402

PASSWORD = "bench password 123"
SYSTEM = "You add leads to the CRM."
MAX_TOKENS = 64
CONTEXT_SIZE = 2048


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 1), "p90_ms": round(percentile(values, 0.9), 1)}


async def account(http: httpx.AsyncClient) -> dict:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    response = await http.post("/api/auth/register", json={
        "email": email, "password": PASSWORD, "first_name": "Ben", "last_name": "Ch", "organization_name": "Bench"})
    response.raise_for_status()
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def direct_messages(message: str) -> list[dict]:
    # what plugins/ml/llm/agents.py builds for an agent with this system prompt and no lead or context
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]


async def direct_pair(runtime, tool: dict, message: str, result: dict) -> tuple[float, int]:
    """The agent's two model calls, made directly; (milliseconds, tokens)."""
    messages = direct_messages(message)
    started = time.perf_counter()
    first = await runtime.complete(messages, tools=[tool], max_tokens=MAX_TOKENS, temperature=0.0,
                                   tool_choice={"type": "function", "function": {"name": "create_lead"}})
    [call] = first.tool_calls
    messages += [
        {"role": "assistant", "content": first.content, "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
        {"role": "tool", "tool_call_id": call.id, "name": call.name,
         "content": json.dumps(result, default=str, ensure_ascii=False)},
    ]
    second = await runtime.complete(messages, tools=[tool], tool_choice="none", max_tokens=MAX_TOKENS,
                                    temperature=0.0)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, first.total_tokens + second.total_tokens


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from core.tenancy.functions import openai_tool
    from core.tenancy.functions import HubFunction
    from plugins.crm.functions import FUNCTIONS
    from plugins.ml.llm.runtime import runtime_from_settings
    from plugins.ml.llm.settings import LLMSettings
    from scripts.fetch_model import fetch_model

    model = fetch_model(Path.home() / ".cache" / "the-hub" / "models")
    [create_lead] = [f for f in FUNCTIONS if f[0] == "create_lead"]
    tool = openai_tool(HubFunction(*create_lead, plugin="crm"))
    runtime = runtime_from_settings(LLMSettings(model_path=model, context_size=CONTEXT_SIZE, threads=1))
    env = {"HUB_PLUGINS__LLM__MODEL_PATH": str(model), "HUB_PLUGINS__LLM__CONTEXT_SIZE": str(CONTEXT_SIZE),
           "HUB_PLUGINS__LLM__THREADS": "1", "HUB_RATE_LIMITS__ENABLED": "false"}

    hub_ms, server_ms, direct_ms, hub_tokens, direct_tokens = [], [], [], [], []
    succeeded = leads_made = 0
    with tempfile.TemporaryDirectory(prefix="hub-agents-bench-") as data_dir, live_hub(Path(data_dir), env=env) as hub:
        async with httpx.AsyncClient(base_url=hub.url, timeout=300) as http:
            headers = await account(http)
            agent = (await http.post("/api/agents", headers=headers, json={
                "name": "Bench agent", "capabilities": ["create_lead"],
                "config": {"systemPrompt": SYSTEM, "toolChoice": "create_lead", "maxSteps": 2,
                           "maxTokens": MAX_TOKENS, "timeoutSeconds": 600}})).json()
            names = ["Jane Doe", "Bob Wilson", "Alice Johnson", "John Smith", "Mary Major"]
            for index in range(args.runs + 1):  # run 0 loads the models on both sides and is dropped
                message = f"Add {names[index % len(names)]} from Acme Corp as a new lead."
                started = time.perf_counter()
                response = await http.post(f"/api/agents/{agent['id']}/execute", headers=headers,
                                           json={"input": {"message": message}})
                elapsed = (time.perf_counter() - started) * 1000
                body = response.json()
                response.raise_for_status()
                [action] = body["output"]["actions"]
                pair_ms, pair_tokens = await direct_pair(runtime, tool, message, action.get("result") or {})
                if index == 0:
                    continue
                hub_ms.append(elapsed)
                server_ms.append(body["run"]["latencyMs"])
                hub_tokens.append(body["usage"]["inputTokens"] + body["usage"]["outputTokens"])
                direct_ms.append(pair_ms)
                direct_tokens.append(pair_tokens)
                succeeded += body["run"]["status"] == "succeeded"
                leads_made += action["status"] == "executed"
            total_leads = (await http.get("/api/leads", headers=headers)).json()["total"]

    report = {
        "runs": args.runs,
        "model": model.name,
        "hub_run": summary(hub_ms),
        "hub_run_server_side": summary(server_ms),
        "direct_two_calls": summary(direct_ms),
        "ratio_median": round(statistics.median(hub_ms) / statistics.median(direct_ms), 3),
        "tokens_per_run_hub": statistics.median(hub_tokens),
        "tokens_per_run_direct": statistics.median(direct_tokens),
        "succeeded_share": round(succeeded / args.runs, 3),
        "lead_created_share": round(leads_made / args.runs, 3),
        "leads_in_crm": total_leads,
    }
    print(f"agent run through the Hub   median {report['hub_run']['median_ms']:8.1f} ms  "
          f"p90 {report['hub_run']['p90_ms']:8.1f} ms  (server-side {report['hub_run_server_side']['median_ms']:.1f} ms)")
    print(f"same two calls, direct      median {report['direct_two_calls']['median_ms']:8.1f} ms  "
          f"p90 {report['direct_two_calls']['p90_ms']:8.1f} ms")
    print(f"ratio Hub / direct (median) {report['ratio_median']}   tokens/run Hub {report['tokens_per_run_hub']} "
          f"direct {report['tokens_per_run_direct']}")
    print(f"runs succeeded {report['succeeded_share']:.0%}, created their lead {report['lead_created_share']:.0%}, "
          f"leads in the CRM: {total_leads} (of {args.runs + 1} runs)")
    write_results("llm_agents.json", report)


if __name__ == "__main__":
    asyncio.run(main())
