"""Time to first token and generation speed of the local LLM: through the Hub vs llama-cpp-python
called directly, in the same run, on the same prompts.

Paths measured (temperature 0, the same max_tokens, several rounds over the prompts, medians):
  direct      llama_cpp.Llama(n_threads=T).create_completion(prompt, stream=True) in a fresh
              subprocess per thread setting (OpenMP reads OMP_WAIT_POLICY once, at load):
              threads=1 (the reference); threads=2 with OMP_WAIT_POLICY=PASSIVE; with --spin
              also threads=2 with OpenMP's default (spinning) policy, which collapses on 2
              shared cores (slow, and it loads both cores: opt-in).
  in-process  plugins.ml.llm.runtime (ModelRuntime.stream), the code behind the routes, no HTTP.
  HTTP        a live `hub serve` on 127.0.0.1 and the official `openai` client streaming
              /v1/chat/completions (JWT auth, quota check, SSE, the model queue: everything).
The Hub paths run with the plugin's settings threads=1 (and PASSIVE, which the runtime sets).
Two workloads: "chat" (plain answers) and "tool" (a forced tool call: the tool in the prompt,
the grammar constraining the output). The direct path gets the very prompt text and grammar
the runtime builds (ModelRuntime.prepare), so the ratio Hub/direct is the Hub's own overhead;
greedy decoding must then give the same output, which is checked and reported.

TTFT       request sent -> first visible chunk (content, or for a tool call through the Hub the
           tool-call header, which needs ~10 tokens of the call's JSON first); it includes
           prompt processing.
tok/s      (completion tokens - 1) / (last chunk - first chunk): decoding speed without TTFT.
e2e tok/s  completion tokens / whole request: the comparable number for tool calls.
Completion tokens: direct = streamed chunks, Hub = the `usage` the Hub reports.

    .venv/bin/python bench/llm_speed.py [--runs 3] [--max-tokens 128] [--tool-max-tokens 512]
                                        [--chat-format xml|xlam] [--skip-http] [--spin]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL_DIR = ROOT / "data" / "models"

# Prompts that make a small model write until max_tokens rather than stop early.
CHAT_PROMPTS = [
    "Write a long story about a robot who learns to paint.",
    "Explain in detail how a bicycle works, part by part.",
    "Describe a busy city market in the morning, with many details.",
]
TOOL_PROMPTS = [
    "Create a lead for Maria Garcia, maria.garcia@example.com, from Acme Corp; she asked for a demo.",
    "Add a new lead: John Smith from Globex, email john@globex.example, interested in pricing.",
    "Please record a lead named Wei Chen (wei.chen@initech.example) at Initech, source: webinar.",
]
LEAD_TOOL = {
    "type": "function",
    "function": {
        "name": "create_lead",
        "description": "Create a sales lead in the CRM.",
        "parameters": {
            "type": "object",
            "properties": {
                "first_name": {"type": "string", "description": "The lead's first name", "maxLength": 64},
                "last_name": {"type": "string", "description": "The lead's last name", "maxLength": 64},
                "email": {"type": "string", "description": "The lead's email address", "maxLength": 128},
                "company": {"type": "string", "description": "The lead's company", "maxLength": 128},
                "source": {"type": "string", "enum": ["website", "referral", "webinar", "event", "other"]},
                "notes": {"type": "string", "description": "Anything else worth knowing", "maxLength": 500},
            },
            "required": ["first_name", "last_name", "email"],
        },
    },
}
FORCED = {"type": "function", "function": {"name": "create_lead"}}


def model_path() -> Path:
    from scripts.fetch_model import fetch_model

    return fetch_model(MODEL_DIR)


def summarize(samples: list[dict]) -> dict:
    """Medians over all runs of all prompts of one workload."""
    def median(key: str) -> float:
        return statistics.median(sample[key] for sample in samples)

    return {
        "runs": len(samples),
        "ttft_ms": round(median("ttft_s") * 1000, 1),
        "latency_ms": round(median("latency_s") * 1000, 1),
        "tokens": median("tokens"),
        "tokens_per_second": round(median("tokens_per_second"), 1),
        "e2e_tokens_per_second": round(median("e2e_tokens_per_second"), 1),
    }


def timing(started: float, chunk_times: list[float], finished: float, tokens: int) -> dict:
    decode_seconds = chunk_times[-1] - chunk_times[0] if len(chunk_times) > 1 else 0.0
    return {
        "ttft_s": chunk_times[0] - started if chunk_times else float("nan"),
        "latency_s": finished - started,
        "tokens": tokens,
        "tokens_per_second": (tokens - 1) / decode_seconds if decode_seconds > 0 else 0.0,
        "e2e_tokens_per_second": tokens / (finished - started),
    }


# --- direct llama-cpp-python, one subprocess per thread setting ---------------------------

def direct_worker() -> None:
    """Child process: read {model, threads, context_size, jobs: [{prompt, grammar, max_tokens}], runs}
    from stdin, print per-job lists of run timings and texts as JSON."""
    job = json.load(sys.stdin)
    from llama_cpp import Llama, LlamaGrammar

    threads = job["threads"]
    # The runtime's own Llama arguments; n_threads_batch must be given, its default is all cores.
    llm = Llama(job["model"], n_threads=threads, n_threads_batch=threads, n_ctx=job["context_size"],
                n_batch=512, seed=0, verbose=False)
    grammars = [LlamaGrammar.from_string(item["grammar"], verbose=False) if item.get("grammar") else None
                for item in job["jobs"]]
    # Tokenized as the runtime does: the chat template already wrote any BOS it wants.
    prompts = [llm.tokenize(item["prompt"].encode(), add_bos=False, special=True) for item in job["jobs"]]
    results: list[list[dict]] = [[] for _ in job["jobs"]]
    # Rounds over all prompts, like the Hub paths: llama-cpp-python keeps the KV cache of the
    # prefix shared with the previous request in both, so prompt processing is comparable.
    for round_number in range(job["runs"] + 1):  # round 0 warms caches and is dropped
        for index, item in enumerate(job["jobs"]):
            started = time.perf_counter()
            chunk_times, text, tokens = [], "", 0
            for chunk in llm.create_completion(prompts[index], max_tokens=item["max_tokens"], temperature=0.0,
                                               stream=True, grammar=grammars[index]):
                choice = chunk["choices"][0]
                # One chunk per generated token; the last one only carries finish_reason.
                tokens += choice["finish_reason"] is None
                if choice["text"]:
                    chunk_times.append(time.perf_counter())
                    text += choice["text"]
            if round_number:
                results[index].append({**timing(started, chunk_times, time.perf_counter(), tokens), "text": text})
    json.dump(results, sys.stdout)


def run_direct(model: Path, threads: int, omp_wait_policy: str | None, jobs: list[dict], args) -> list[list[dict]]:
    env = {name: value for name, value in os.environ.items() if name != "OMP_WAIT_POLICY"}
    if omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy
    job = {"model": str(model), "threads": threads, "context_size": args.context_size, "jobs": jobs,
           "runs": args.runs}
    completed = subprocess.run([sys.executable, __file__, "--direct-worker"], input=json.dumps(job),
                               capture_output=True, text=True, env=env, check=True)
    return json.loads(completed.stdout)


# --- through the Hub over HTTP: a live `hub serve` and the official openai client ----------

def hub_account(base_url: str) -> str:
    """Register a user on the live Hub and return its access token (the openai client's api_key)."""
    import httpx

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/api/auth/register", json={"email": email, "password": "benchmark-pass", "first_name": "B",
                                                "last_name": "M", "organization_name": "Bench"}).raise_for_status()
        login = client.post("/api/auth/login", json={"email": email, "password": "benchmark-pass"})
        login.raise_for_status()
        return login.json()["access_token"]


def stream_chat(client, model_name: str, job: dict) -> dict:
    """One streamed chat completion over HTTP: timings, the visible text (content or tool-call
    arguments) and the completion tokens of the Hub's usage chunk."""
    extra = {"tools": job["tools"], "tool_choice": FORCED} if job["tools"] else {}
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model_name, messages=job["messages"], max_tokens=job["max_tokens"], temperature=0, stream=True,
        stream_options={"include_usage": True}, **extra)
    chunk_times, text, tokens = [], "", 0
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            delta = choice.delta
            calls = delta.tool_calls or []
            piece = delta.content or "".join(call.function.arguments or "" for call in calls if call.function)
            if piece or calls:
                chunk_times.append(time.perf_counter())
                text += piece
    return {**timing(started, chunk_times, time.perf_counter(), tokens), "text": text}


def run_http(model: Path, jobs: list[dict], args) -> list[list[dict]]:
    """Rounds over `jobs` against a live Hub; per job, the runs of rounds 1..n."""
    import openai

    from tests.live_server import live_hub

    env = {
        "HUB_PLUGINS__LLM__MODEL_PATH": str(model),
        "HUB_PLUGINS__LLM__THREADS": "1",
        "HUB_PLUGINS__LLM__CHAT_FORMAT": args.chat_format,
        "HUB_PLUGINS__LLM__CONTEXT_SIZE": str(args.context_size),
        "HUB_RATE_LIMITS__ENABLED": "false",
    }
    results: list[list[dict]] = [[] for _ in jobs]
    with tempfile.TemporaryDirectory(prefix="hub-llm-bench-") as data_dir, live_hub(Path(data_dir), env=env) as hub:
        client = openai.OpenAI(base_url=hub.url + "/v1", api_key=hub_account(hub.url), max_retries=0, timeout=300,
                               _strict_response_validation=True)
        model_name = client.models.list().data[0].id
        for round_number in range(args.runs + 1):  # round 0 loads the model and is dropped
            for index, job in enumerate(jobs):
                run = stream_chat(client, model_name, job)
                if round_number:
                    results[index].append(run)
    return results


# --- in-process: plugins.ml.llm.runtime without HTTP ---------------------------------------

def runtime_settings(model: Path, args):
    from plugins.ml.llm.settings import LLMSettings

    return LLMSettings(model_path=model, threads=1, chat_format=args.chat_format, context_size=args.context_size)


async def prepare_jobs(model: Path, args) -> list[dict]:
    """The workloads, each with the exact prompt text and grammar the runtime generates from."""
    from plugins.ml.llm.runtime import runtime_from_settings

    runtime = runtime_from_settings(runtime_settings(model, args), ROOT / "data")
    await runtime.ensure_loaded()  # prepare() renders with the model's own chat template
    jobs = []
    for workload, prompts, tools, max_tokens in (("chat", CHAT_PROMPTS, None, args.max_tokens),
                                                  ("tool", TOOL_PROMPTS, [LEAD_TOOL], args.tool_max_tokens)):
        for text in prompts:
            messages = [{"role": "user", "content": text}]
            prompt, grammar, _, max_tokens = runtime.prepare(messages, tools, FORCED if tools else "auto", max_tokens)
            jobs.append({"workload": workload, "messages": messages, "tools": tools, "max_tokens": max_tokens,
                         "prompt": prompt, "grammar": grammar.gbnf if grammar else None})
    return jobs


async def run_in_process(model: Path, jobs: list[dict], args) -> list[list[dict]]:
    from plugins.ml.llm.runtime import ArgumentsDelta, ContentDelta, Finished, ToolCallStart, runtime_from_settings

    runtime = runtime_from_settings(runtime_settings(model, args), ROOT / "data")
    results: list[list[dict]] = [[] for _ in jobs]
    for round_number in range(args.runs + 1):
        for index, job in enumerate(jobs):
            started = time.perf_counter()
            chunk_times, text, tokens = [], "", 0
            async for event in runtime.stream(job["messages"], tools=job["tools"],
                                              tool_choice=FORCED if job["tools"] else "auto",
                                              max_tokens=job["max_tokens"], temperature=0.0):
                if isinstance(event, (ContentDelta, ArgumentsDelta, ToolCallStart)):
                    chunk_times.append(time.perf_counter())
                    text += getattr(event, "text", "")
                elif isinstance(event, Finished):
                    tokens = event.completion.completion_tokens
            if round_number:
                results[index].append({**timing(started, chunk_times, time.perf_counter(), tokens), "text": text})
    return results


# --- report ---------------------------------------------------------------------------------

def same_output(hub_text: str, direct_text: str, job: dict) -> bool:
    """Greedy decoding of the same prompt must give the same answer; for a tool call the Hub
    streams only the arguments, which must be the direct answer's arguments."""
    if not job["tools"]:
        return hub_text == direct_text
    from plugins.ml.llm.prompts import parse

    calls = parse(direct_text, job["chat_format"]).calls
    try:
        return len(calls) == 1 and json.loads(hub_text) == calls[0].arguments
    except ValueError:
        return False


def by_workload(jobs: list[dict], runs: list[list[dict]], direct: list[list[dict]] | None = None) -> dict:
    report = {}
    for workload in ("chat", "tool"):
        indexes = [i for i, job in enumerate(jobs) if job["workload"] == workload]
        row = summarize([run for i in indexes for run in runs[i]])
        if direct is not None:
            pairs = [(run["text"], direct[i][0]["text"], jobs[i]) for i in indexes for run in runs[i]]
            row["same_output_as_direct"] = f"{sum(same_output(*pair) for pair in pairs)}/{len(pairs)}"
        report[workload] = row
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured rounds over the prompts (after one warm-up)")
    parser.add_argument("--max-tokens", type=int, default=128, help="for the chat workload")
    parser.add_argument("--tool-max-tokens", type=int, default=512,
                        help="for the tool workload (the grammar fits its string bounds into it)")
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--chat-format", default="xml", choices=["xml", "xlam"])
    parser.add_argument("--skip-http", action="store_true", help="no live hub (direct and in-process only)")
    parser.add_argument("--spin", action="store_true",
                        help="also threads=2 with OpenMP's default (spinning) wait policy: slow, loads both cores")
    parser.add_argument("--direct-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct_worker:
        direct_worker()
        return

    import asyncio

    model = model_path()
    jobs = asyncio.run(prepare_jobs(model, args))
    for job in jobs:
        job["chat_format"] = args.chat_format
    worker_jobs = [{"prompt": job["prompt"], "grammar": job["grammar"], "max_tokens": job["max_tokens"]} for job in jobs]
    load: dict[str, list[float]] = {}
    paths: dict[str, dict] = {}

    def measure(name: str, run) -> list[list[dict]]:
        before = os.getloadavg()[0]
        started = time.perf_counter()
        runs = run()
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        load[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
        return runs

    direct_1 = measure("direct threads=1", lambda: run_direct(model, 1, None, worker_jobs, args))
    paths["direct threads=1"] = by_workload(jobs, direct_1)
    in_process = measure("hub in-process", lambda: asyncio.run(run_in_process(model, jobs, args)))
    paths["hub in-process"] = by_workload(jobs, in_process, direct_1)
    if not args.skip_http:
        http = measure("hub HTTP", lambda: run_http(model, jobs, args))
        paths["hub HTTP (openai client)"] = by_workload(jobs, http, direct_1)
    direct_2 = measure("direct threads=2 PASSIVE", lambda: run_direct(model, 2, "PASSIVE", worker_jobs, args))
    paths["direct threads=2 PASSIVE"] = by_workload(jobs, direct_2, direct_1)
    if args.spin:
        direct_spin = measure("direct threads=2 spin", lambda: run_direct(model, 2, None, worker_jobs, args))
        paths["direct threads=2 spinning"] = by_workload(jobs, direct_spin, direct_1)

    reference = paths["direct threads=1"]
    for name, rows in paths.items():
        for workload, row in rows.items():
            base = reference[workload]
            row["ratio_to_direct"] = {
                "ttft": round(row["ttft_ms"] / base["ttft_ms"], 2),
                "tokens_per_second": round(row["tokens_per_second"] / base["tokens_per_second"], 2),
                "e2e_tokens_per_second": round(row["e2e_tokens_per_second"] / base["e2e_tokens_per_second"], 2),
            }
    report = {
        "model": model.name,
        "chat_format": args.chat_format,
        "runs_per_prompt": args.runs,
        "prompts_per_workload": {"chat": len(CHAT_PROMPTS), "tool": len(TOOL_PROMPTS)},
        "max_tokens": {"chat": args.max_tokens, "tool": args.tool_max_tokens},
        "cpu_count": os.cpu_count(),
        "load_average_before_after": load,
        "paths": paths,
    }
    print(f"model={model.name} chat_format={args.chat_format} runs={args.runs}x{len(CHAT_PROMPTS)} prompts "
          f"max_tokens chat={args.max_tokens} tool={args.tool_max_tokens}  (medians; ratio = path / direct threads=1)")
    print(f"{'path':<28} {'workload':<8} {'TTFT ms':>8} {'tok/s':>7} {'e2e tok/s':>9} {'tokens':>6} "
          f"{'TTFT x':>7} {'tok/s x':>7} {'e2e x':>6}  same output")
    for name, rows in paths.items():
        for workload, row in rows.items():
            ratio = row["ratio_to_direct"]
            print(f"{name:<28} {workload:<8} {row['ttft_ms']:>8} {row['tokens_per_second']:>7} "
                  f"{row['e2e_tokens_per_second']:>9} {row['tokens']:>6} {ratio['ttft']:>7} "
                  f"{ratio['tokens_per_second']:>7} {ratio['e2e_tokens_per_second']:>6}  "
                  f"{row.get('same_output_as_direct', '')}")
    write_results("llm_speed.json", report)


if __name__ == "__main__":
    main()
