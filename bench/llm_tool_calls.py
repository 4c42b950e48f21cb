"""Tool-call validity and accuracy of the local LLM, with and without the tool grammar, on the
"simple" (Python) category of the Berkeley Function-Calling Leaderboard.

The data set comes from the PyPI wheel of `bfcl-eval` (questions and possible answers are JSON
Lines files inside it): `pip download --no-deps` fetches it once into data/bench/ (gitignored),
and nothing of it is committed or installed. Each case is one user question and one function;
the model must call that function with the right arguments.

Generation runs in-process through `plugins.ml.llm.runtime` with the same prompt in two modes:
  grammar      tool_choice = the function: decoding is constrained by the grammar built from the
               function's JSON schema (the Hub's normal path for a forced tool call);
  free         no grammar: the model writes whatever it likes after the same prompt, and the
               chat format's own parser extracts the tool call from the text.
for every prompt format the runtime offers (xLAM and <tools> XML tags).

Validity: the output parses as exactly one tool call, to the offered function, whose arguments
validate against the function's JSON schema (types, required keys, enums, no unknown keys,
nested objects and array items).
Accuracy (BFCL's AST rules, simplified): the call is valid-shaped, names the right function,
gives every required parameter, no parameter outside the possible answer, every optional
parameter whose possible answers lack "" is given, and every value equals one of the possible
answers: strings compared after BFCL's standardisation (lowercase, without spaces and ,./-_*^),
integers accepted for floats, lists element-wise, objects key by key (recursively).

    .venv/bin/python bench/llm_tool_calls.py [--limit 100] [--formats xlam,xml] [--modes grammar,free]
    .venv/bin/python bench/llm_tool_calls.py --limit 0     # the whole simple set (400 cases)
    .venv/bin/python bench/llm_tool_calls.py --limit 0 --check-scorer   # the scorer on the answers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BFCL_PACKAGE = "bfcl-eval==2026.3.23"
BFCL_CACHE = ROOT / "data" / "bench"
QUESTIONS = "bfcl_eval/data/BFCL_v4_simple_python.json"
POSSIBLE_ANSWERS = "bfcl_eval/data/possible_answer/BFCL_v4_simple_python.json"

# BFCL's own mapping of its type names to OpenAPI/JSON schema (bfcl_eval.constants.type_mappings).
BFCL_TO_JSON_SCHEMA = {
    "integer": "integer", "number": "number", "float": "number", "string": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
    "dict": "object", "object": "object", "tuple": "array", "any": "string",
}


# --- data ---------------------------------------------------------------------------------

def bfcl_wheel() -> Path:
    """The bfcl-eval wheel in data/bench/, downloaded (without its dependencies) on first use."""
    BFCL_CACHE.mkdir(parents=True, exist_ok=True)
    version = BFCL_PACKAGE.split("==")[1]
    wheels = sorted(BFCL_CACHE.glob(f"bfcl_eval-{version}-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--disable-pip-version-check", "--dest", str(BFCL_CACHE), BFCL_PACKAGE], check=True)
        wheels = sorted(BFCL_CACHE.glob(f"bfcl_eval-{version}-*.whl"))
    return wheels[0]


def json_schema(bfcl: dict) -> dict:
    """A BFCL parameter schema ("dict", "float", "tuple", "optional": ...) as JSON schema.
    Objects with declared properties get additionalProperties=false: a made-up parameter is
    not a valid call (an object without properties stays a free-form map)."""
    schema: dict[str, Any] = {"type": BFCL_TO_JSON_SCHEMA[bfcl.get("type", "string")]}
    for key in ("description", "enum", "default"):
        if key in bfcl:
            schema[key] = bfcl[key]
    if "items" in bfcl:
        schema["items"] = json_schema(bfcl["items"])
    if schema["type"] == "object":
        schema["properties"] = {name: json_schema(sub) for name, sub in bfcl.get("properties", {}).items()}
        schema["required"] = [name for name in bfcl.get("required", []) if name in schema["properties"]]
        if schema["properties"]:
            schema["additionalProperties"] = False
    return schema


def tool_name(bfcl_name: str) -> str:
    # OpenAI tool names match ^[a-zA-Z0-9_-]{1,64}$; BFCL itself renames "math.hypot" to
    # "math_hypot" for OpenAI-style models.
    return re.sub(r"[^a-zA-Z0-9_-]", "_", bfcl_name)[:64]


def load_cases(limit: int) -> list[dict]:
    """[{id, messages, tool (OpenAI schema), answer: {param: [possible values]}}], in file order."""
    with zipfile.ZipFile(bfcl_wheel()) as wheel:
        questions = [json.loads(line) for line in wheel.read(QUESTIONS).decode().splitlines() if line.strip()]
        answers = {row["id"]: row["ground_truth"][0]
                   for row in map(json.loads, wheel.read(POSSIBLE_ANSWERS).decode().splitlines()) if row}
    cases = []
    for question in questions[: limit or None]:
        (function,) = question["function"]
        ((answer_name, answer),) = answers[question["id"]].items()
        assert answer_name == function["name"], question["id"]
        cases.append({
            "id": question["id"],
            "messages": question["question"][0],
            "tool": {"type": "function", "function": {
                "name": tool_name(function["name"]),
                "description": function.get("description", ""),
                "parameters": json_schema(function["parameters"]),
            }},
            "answer": answer,
        })
    return cases


# --- scoring ------------------------------------------------------------------------------

JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
              "array": list, "object": dict}


def schema_errors(value: Any, schema: dict, path: str = "arguments") -> list[str]:
    """What makes `value` invalid against the JSON-schema subset used here (empty: valid)."""
    expected = schema.get("type")
    if expected:
        python_type = JSON_TYPES[expected]
        # bool is an int in Python, but not a JSON integer/number.
        if not isinstance(value, python_type) or (isinstance(value, bool) and expected != "boolean"):
            return [f"{path}: expected {expected}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in enum"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}: missing {name}" for name in schema.get("required", []) if name not in value]
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown {name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{index}]")
    return errors


def standardize(text: str) -> str:
    """BFCL's string comparison: case, spaces and ,./-_*^ do not matter."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def value_matches(value: Any, possible: list) -> bool:
    for candidate in possible:
        if candidate == "":  # "" marks the parameter optional, not an accepted value
            continue
        if same_value(value, candidate):
            return True
    return False


def same_value(value: Any, expected: Any) -> bool:
    if isinstance(expected, str):
        return isinstance(value, str) and standardize(value) == standardize(expected)
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, (int, float)):
        return isinstance(value, (int, float)) and float(value) == float(expected)
    if isinstance(expected, list):
        return isinstance(value, list) and len(value) == len(expected) and all(
            same_value(got, want) for got, want in zip(value, expected))
    if isinstance(expected, dict):  # a nested object: each key has its own possible answers
        return isinstance(value, dict) and arguments_match(value, expected)
    return value == expected


def arguments_match(arguments: dict, answer: dict) -> bool:
    for name, value in arguments.items():
        if name not in answer or not value_matches(value, answer[name]):
            return False
    return all(name in arguments or "" in possible for name, possible in answer.items())


def score(call: dict | None, calls_found: int, case: dict) -> dict:
    """{valid, accurate, failure, detail} of one generation. `call` is {"name", "arguments"}
    (arguments a dict, or a string when the model wrote one)."""
    function = case["tool"]["function"]

    def failed(failure: str, detail: str = "", valid: bool = False) -> dict:
        return {"valid": valid, "accurate": False, "failure": failure, "detail": detail}

    if call is None or calls_found == 0:
        return failed("no tool call")
    if calls_found > 1:
        return failed("several tool calls", str(calls_found))
    if call["name"] != function["name"]:
        return failed("wrong function", call["name"])
    arguments = call["arguments"]
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return failed("arguments not JSON")
    errors = schema_errors(arguments, function["parameters"])
    if errors:
        return failed("arguments violate the schema", "; ".join(errors[:3]))
    if not arguments_match(arguments, case["answer"]):
        return failed("wrong arguments", json.dumps(arguments)[:200], valid=True)
    return {"valid": True, "accurate": True, "failure": None, "detail": ""}


# --- generation through plugins.ml.llm.runtime ----------------------------------------------

def first_call(text: str | None, chat_format: str) -> tuple[dict | None, int]:
    """The first tool call in a model's text, parsed by the chat format's own parser, and how
    many calls it holds."""
    from plugins.ml.llm.prompts import parse

    calls = parse(text or "", chat_format).calls
    return ({"name": calls[0].name, "arguments": calls[0].arguments} if calls else None), len(calls)


async def generate(runtime, case: dict, mode: str, max_tokens: int) -> tuple[dict | None, int, int, str]:
    """(call, calls found, completion tokens, raw text) for one case.

    grammar: the runtime's normal forced tool call (tool_choice = the function); the runtime
             validates the call it parsed and returns the text instead when it does not.
    free:    the same prompt (rendered by runtime.prepare with the same tool_choice), generated
             without a grammar, parsed by the format's parser."""
    from plugins.ml.llm import runtime as llm

    tools = [case["tool"]]
    choice = {"type": "function", "function": {"name": case["tool"]["function"]["name"]}}
    if mode == "grammar":
        completion = await runtime.complete(case["messages"], tools=tools, tool_choice=choice,
                                            max_tokens=max_tokens, temperature=0.0)
        if completion.tool_calls:
            calls = completion.tool_calls
            return {"name": calls[0].name, "arguments": calls[0].arguments}, len(calls), \
                completion.completion_tokens, json.dumps(calls[0].arguments)
        call, found = first_call(completion.content, runtime.settings.chat_format)
        return call, found, completion.completion_tokens, completion.content or ""
    prompt, _, _, max_tokens = runtime.prepare(case["messages"], tools, choice, max_tokens)
    # The runtime has no public "tools in the prompt, no grammar" switch: its generator is used
    # directly, so the prompt, queue, thread and sampling are the ones of the grammar mode.
    state = llm._Generation()
    async for _ in runtime._pieces(prompt, None, max_tokens, 0.0, state):
        pass
    call, found = first_call(state.text, runtime.settings.chat_format)
    return call, found, state.completion_tokens, state.text


async def run_format(chat_format: str, modes: list[str], cases: list[dict], args) -> dict:
    from core.kernel.errors import HubError
    from plugins.ml.llm.runtime import runtime_from_settings
    from plugins.ml.llm.settings import LLMSettings
    from scripts.fetch_model import fetch_model

    settings = LLMSettings(model_path=fetch_model(ROOT / "data" / "models"), threads=args.threads,
                           chat_format=chat_format, context_size=args.context_size)
    runtime = runtime_from_settings(settings, ROOT / "data")
    await runtime.ensure_loaded()
    rows: dict[str, list[dict]] = {mode: [] for mode in modes}
    started = time.perf_counter()
    try:
        # Modes inner: the free generation reuses the prompt the grammar run just evaluated
        # (llama.cpp keeps the common prefix), which halves the run time.
        for number, case in enumerate(cases, 1):
            for mode in modes:
                case_started = time.perf_counter()
                try:
                    call, found, tokens, text = await generate(runtime, case, mode, args.max_tokens)
                    row = score(call, found, case)
                except HubError as error:  # e.g. a tool schema the grammar builder refuses
                    tokens, text = 0, ""
                    row = {"valid": False, "accurate": False, "failure": "refused by the runtime",
                           "detail": f"{error.code}: {error.message}"}
                rows[mode].append({"id": case["id"], **row, "tokens": tokens,
                                   "seconds": round(time.perf_counter() - case_started, 2), "output": text[:300]})
            if number % 10 == 0:
                print(f"  {chat_format}: {number}/{len(cases)} cases, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)
    finally:
        runtime.close()
    return {mode: summary(mode_rows) for mode, mode_rows in rows.items()}


async def run_formats(formats: list[str], modes: list[str], cases: list[dict], args) -> list[dict]:
    """The formats side by side: each has its own model instance and worker thread (llama.cpp
    releases the GIL), so two formats take about the time of one on two cores."""
    return await asyncio.gather(*(run_format(chat_format, modes, cases, args) for chat_format in formats))


def summary(rows: list[dict]) -> dict:
    return {
        "cases": len(rows),
        "valid": sum(r["valid"] for r in rows),
        "accurate": sum(r["accurate"] for r in rows),
        "validity": round(sum(r["valid"] for r in rows) / len(rows), 3),
        "accuracy": round(sum(r["accurate"] for r in rows) / len(rows), 3),
        "median_tokens": statistics.median(r["tokens"] for r in rows),
        "median_seconds": statistics.median(r["seconds"] for r in rows),
        "failures": failure_counts(rows),
        "per_case": rows,
    }


def failure_counts(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        if row["failure"]:
            counts[row["failure"]] = counts.get(row["failure"], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def check_scorer(cases: list[dict]) -> None:
    """Score each case's first possible answer as if the model had given it: the scorer must
    call (nearly) all of them accurate. simple_python_307 cannot pass: its answer gives a
    boolean to a string parameter."""
    def first(possible: list) -> Any:
        return next((expand(value) for value in possible if value != ""), None)

    def expand(value: Any) -> Any:
        if isinstance(value, dict):  # nested objects hold possible answers per key too
            return {key: first(options) for key, options in value.items() if first(options) is not None}
        if isinstance(value, list):
            return [expand(item) for item in value]
        return value

    failed = []
    for case in cases:
        arguments = {name: first(options) for name, options in case["answer"].items() if first(options) is not None}
        result = score({"name": case["tool"]["function"]["name"], "arguments": arguments}, 1, case)
        if not result["accurate"]:
            failed.append(f"{case['id']}: {result['failure']} {result['detail']}")
    print(f"reference answers scored accurate: {len(cases) - len(failed)}/{len(cases)}")
    for line in failed:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100, help="first N cases of the simple set; 0: all 400")
    parser.add_argument("--formats", default="xml,xlam", help="chat formats to compare (plugins.llm.chat_format)")
    parser.add_argument("--modes", default="grammar,free")
    parser.add_argument("--max-tokens", type=int, default=256,
                        help="per answer; the grammar fits its string bounds into it")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--check-scorer", action="store_true", help="score the reference answers, no model")
    args = parser.parse_args()
    cases = load_cases(args.limit)
    if args.check_scorer:
        check_scorer(cases)
        return
    modes = args.modes.split(",")
    report = {"data_set": f"{BFCL_PACKAGE} {QUESTIONS}", "cases": len(cases), "max_tokens": args.max_tokens,
              "formats": {}}
    formats = args.formats.split(",")
    report["formats"] = dict(zip(formats, asyncio.run(run_formats(formats, modes, cases, args))))

    print(f"BFCL simple (python), {len(cases)} cases, SmolLM2-135M, max_tokens={args.max_tokens}")
    print(f"{'format':<6} {'mode':<8} {'validity':>9} {'accuracy':>9} {'med tokens':>10} {'med s':>6}  top failure reasons")
    for chat_format, modes_report in report["formats"].items():
        for mode, row in modes_report.items():
            reasons = ", ".join(f"{kind} ({count})" for kind, count in list(row["failures"].items())[:3])
            print(f"{chat_format:<6} {mode:<8} {row['validity']:>9.1%} {row['accuracy']:>9.1%} "
                  f"{row['median_tokens']:>10} {row['median_seconds']:>6}  {reasons}")
    write_results("llm_tool_calls.json", report)


if __name__ == "__main__":
    main()
