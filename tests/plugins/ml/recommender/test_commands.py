"""`hub recommender train` (hook hub_commands): a model version trained from the command line, on
the suite's database, then served by the app under test like one trained through the API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from tests.live_server import ROOT, hub_environment
from tests.plugins.ml.recommender.support import FAST_TRAINING


async def hub_command(settings, *args: str) -> subprocess.CompletedProcess:
    """`hub.py <args>` in a child process on the suite's data dir and database (jobs run in it)."""
    env = hub_environment(settings.data_dir, {"HUB_DATABASE_URL": settings.effective_database_url})
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "hub.py"), *args], cwd=ROOT, env=env, capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=300)


def train_arguments(org_id: str, *extra: str) -> list[str]:
    return ["recommender", "train", "--org", org_id, "--model-type", "matrix_factorization",
            "--epochs", str(FAST_TRAINING["epochs"]), "--embedding-dim", str(FAST_TRAINING["embedding_dim"]),
            "--param", f"ranker_rounds={FAST_TRAINING['ranker_rounds']}", *extra]


async def test_train_on_the_command_line(api, settings):
    await api.seed()
    result = await hub_command(settings, *train_arguments(api.org_id))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Training model v1 of organization {api.org_id} on 144 interactions (job ")
    percentages = [int(line.split("%")[0]) for line in lines[1:-1]]
    assert percentages and percentages == sorted(percentages) and percentages[-1] >= 90  # progress, in order
    assert lines[-1].startswith("Model v1 (matrix_factorization) is ready and active after ")
    assert "interactions 144" in lines[-1]

    model = await api.call("get", "/api/v1/recommender/models/v1")
    assert model["status"] == "ready" and model["is_active"] and model["hyperparameters"]["epochs"] == 3
    for _ in range(50):  # without Redis the app re-reads the active version every second
        recommended = await api.recommend("user-1")
        if recommended["metadata"]["model_version"] == "v1":
            break
        await asyncio.sleep(0.1)
    assert recommended["metadata"]["model_version"] == "v1"


async def test_train_failures_are_one_line_and_exit_1(api, settings):
    await api.seed()
    bad_parameter = await hub_command(settings, *train_arguments(api.org_id, "--param", "epochz=3"))
    nothing_to_learn = await hub_command(settings, *train_arguments(str(uuid.uuid4())))
    for result, reason in ((bad_parameter, "unknown hyperparameters: epochz"), (nothing_to_learn, "no interactions")):
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hub recommender train: ") and reason in lines[0], result.stderr
    assert (await api.call("get", "/api/v1/recommender/models"))["models"] == []  # nothing was recorded
