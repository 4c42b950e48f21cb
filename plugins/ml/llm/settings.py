"""Settings of the local LLM plugin: `[plugins.llm]` in config/hub.toml, `HUB_PLUGINS__LLM__<KEY>`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core import CommaList

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# "xml": tools inside <tools>...</tools> in the system message, calls as <tool_call>{...}</tool_call>
#        (Hermes / Qwen style), rendered with the model's own chat template (SmolLM2: ChatML).
# "xlam": Salesforce xLAM's [BEGIN OF TASK INSTRUCTION] ... [BEGIN OF QUERY] blocks, calls as
#        {"tool_calls": [{"name", "arguments"}]}.
ChatFormat = Literal["xml", "xlam"]


class AgentSettings(BaseModel):
    """`[plugins.llm.agents]`: what GET /api/analytics/ai-performance counts as savings."""

    model_config = ConfigDict(extra="forbid")

    minutes_saved_per_success: float = Field(5.0, ge=0, description="human minutes one successful run saves")
    hourly_rate: float = Field(30.0, ge=0, description="cost of one human hour, in the currency of the prices")
    max_result_chars: int = Field(2000, ge=100, le=100_000, description="function result shown to the model")


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # The GGUF file. Unset: <data_dir>/models/SmolLM2-135M-Instruct.Q4_1.gguf, which
    # `hub llm fetch-model` puts there. A relative path is relative to the working directory.
    model_path: Path | None = None
    # The name clients send as `model` (GET /v1/models lists it); unset: the file name without .gguf.
    model_name: str | None = Field(None, min_length=1, max_length=128)
    # Other accepted `model` values, e.g. ["gpt-3.5-turbo"] for unmodified clients (env: a,b).
    aliases: CommaList = []
    chat_format: ChatFormat = "xml"
    # The model's chat template (Jinja, as in tokenizer_config.json); unset: the one in the GGUF
    # metadata, else ChatML.
    chat_template: str | None = None
    context_size: int = Field(4096, ge=256, le=1_048_576)
    # CPU threads for generation. On a small shared machine more threads can be much slower
    # (OpenMP threads spin while waiting); the plugin sets OMP_WAIT_POLICY=PASSIVE before loading.
    threads: int = Field(1, ge=1, le=256)
    batch_threads: int | None = Field(None, ge=1, le=256)  # prompt processing; unset: = threads
    gpu_layers: int = Field(0, ge=-1)  # layers offloaded to a GPU; -1: all (needs a GPU build)
    batch_size: int = Field(512, ge=1, le=65_536)
    # llama.cpp's "extra buffer types" repack weights for special CPU kernels (AMX on Intel Sapphire
    # Rapids and later). Off by default: in llama-cpp-python 0.3.36 the AMX kernel crashes the
    # process (SIGSEGV in ggml_backend_amx_mul_mat) on such CPUs as soon as a grammar-constrained
    # generation runs; the plain AVX2/AVX-512 kernels are used instead.
    extra_buffer_types: bool = False
    seed: int = 0
    # Requests waiting for the model (one generation runs at a time): more are refused with 503.
    queue_limit: int = Field(8, ge=0, le=10_000)
    queue_timeout_seconds: float = Field(60.0, gt=0)  # a request waiting longer gets 503
    retry_after_seconds: int = Field(5, ge=1)  # the retry_after of those 503s
    default_max_tokens: int = Field(512, ge=1)  # when a request gives no max_tokens
    max_tokens_limit: int = Field(4096, ge=1)  # a request's max_tokens is capped at this
    # Grammar bounds when a tool schema gives none (they are also fitted into max_tokens).
    max_string_length: int = Field(256, ge=1, le=100_000)
    max_array_items: int = Field(8, ge=1, le=10_000)
    # What /api/ai/completions reports as cost_estimate (a local model costs nothing by default).
    cost_per_1k_tokens: float = Field(0.0, ge=0)
    agents: AgentSettings = AgentSettings()

    def resolved_model_path(self, data_dir: Path | str) -> Path:
        if self.model_path is not None:
            return Path(self.model_path).expanduser()
        return Path(data_dir) / "models" / DEFAULT_MODEL_FILE

    def resolved_model_name(self, data_dir: Path | str) -> str:
        if self.model_name:
            return self.model_name
        name = self.resolved_model_path(data_dir).name
        return name[: -len(".gguf")] if name.endswith(".gguf") else name
