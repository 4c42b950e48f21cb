"""The llm plugin's workflow nodes, run by the workflows plugin on the real local model."""

from __future__ import annotations

import time

from core.testing import WAIT_SECONDS


async def run(api, definition: dict, inputs: dict) -> dict:
    created = await api.post("/api/workflows", definition)
    started = await api.call("POST", f"/api/workflows/{created['id']}/execute", {"inputs": inputs}, status=202)
    deadline = time.monotonic() + WAIT_SECONDS * 4
    while True:
        execution = await api.get(f"/api/executions/{started['execution_id']}")
        if execution["status"] not in ("pending", "running"):
            return execution
        assert time.monotonic() < deadline, execution
        await api.get("/healthz")  # a moment for the job


async def test_ai_text_processing_runs_the_local_model_and_counts_its_tokens(api, hub, model_path):
    execution = await run(api, {"name": "Summarize", "nodes": [{
        "id": "ai", "type": "ai-text-processing",
        "config": {"instruction": "Answer with one word.", "prompt": "Name a color: {{ inputs.hint }}", "max_tokens": 8},
    }]}, {"hint": "the sky"})
    assert execution["status"] == "completed", execution
    answer = execution["output_data"]["ai"]
    assert isinstance(answer["text"], str) and answer["tokens"] > 0
    assert execution["metrics"]["tokens_used"] == answer["tokens"] and execution["metrics"]["ai_processing_time_ms"] > 0
    assert await hub.extensions["metering"].used(api.org_id, "ai_tokens") == answer["tokens"]  # metered as AI use


async def test_ai_image_analysis_says_it_needs_a_vision_model(api, model_path):
    execution = await run(api, {"name": "Look", "nodes": [{
        "id": "look", "type": "ai-image-analysis", "config": {"image_url": "https://example.com/a.png"}}]}, {})
    assert execution["status"] == "failed" and "needs a vision model" in execution["error_message"]
