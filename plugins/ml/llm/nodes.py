"""Workflow node types of the llm plugin (hub_workflow_nodes): seed 001's `ai-text-processing`
through the local model, metered as AI usage like every generation, and `ai-image-analysis`,
which needs a vision model the plugin does not run yet."""

from __future__ import annotations

import json
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.ml.llm import runtime as llm


class TextProcessingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000, description="the text to process (expressions allowed)")
    instruction: str | None = Field(None, max_length=4_000, description="what to do with it (the system message)")
    max_tokens: int = Field(256, ge=1, le=2_048)
    temperature: float = Field(0.0, ge=0, le=2)
    output_format: Literal["text", "json"] = Field("text", description="json: the answer must parse as JSON")


async def text_processing(ctx, config: TextProcessingConfig, inputs: dict) -> dict:
    """The local model's answer to `instruction` about `prompt`: `{"text", "tokens"}` (and
    `data`, the parsed answer, with output_format json)."""
    from plugins.ml.llm.agents import price_per_1k_tokens

    runtime = llm.runtime_of(ctx.hub)
    messages = ([{"role": "system", "content": config.instruction}] if config.instruction else []) + [
        {"role": "user", "content": config.prompt}]
    await llm.check_quota(ctx.org_id, config.max_tokens + len(config.prompt) // 3)
    started = time.perf_counter()
    completion = await runtime.complete(messages, max_tokens=config.max_tokens, temperature=config.temperature)
    await llm.record_tokens(ctx.org_id, completion)
    ctx.add_usage(tokens=completion.total_tokens, ai_ms=(time.perf_counter() - started) * 1000,
                  cost=completion.total_tokens / 1000 * price_per_1k_tokens(ctx.hub))
    text = completion.content or ""
    result = {"text": text, "tokens": completion.total_tokens, "finish_reason": completion.finish_reason}
    if config.output_format == "json":
        try:
            result["data"] = json.loads(text)
        except ValueError:
            raise ValueError(f"the model's answer is not JSON: {text[:200]!r}") from None
    return {"main": result}


class ImageAnalysisConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_url: str = Field(max_length=2_000)
    question: str = Field("Describe the image", max_length=4_000)


async def image_analysis(ctx, config: ImageAnalysisConfig, inputs: dict) -> dict:
    raise RuntimeError(f"ai-image-analysis needs a vision model; the local model "
                       f"({llm.runtime_of(ctx.hub).name}) reads text only")


NODE_TYPES = (
    ("llm.text-processing", "Processes text with the local model (seed: ai-text-processing)", TextProcessingConfig,
     text_processing),
    ("llm.image-analysis", "Answers a question about an image (seed: ai-image-analysis; needs a vision model)",
     ImageAnalysisConfig, image_analysis),
)
