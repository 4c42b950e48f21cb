"""Put the default local model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB) where the Hub looks for
it, without starting a Hub: what `hub llm fetch-model` does (plugins/ml/llm/commands.py).

    python scripts/fetch_model.py                    # -> <data_dir>/models/ (data_dir from settings)
    python scripts/fetch_model.py --dir /srv/models  # somewhere else

It does nothing when the file is already there (idempotent), and prints the file's path.
The tests call `fetch_model(directory)` from their conftest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.ml.llm.commands import MODEL_FILE, fetch_model  # noqa: E402

__all__ = ["MODEL_FILE", "fetch_model", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="target directory (default: <data_dir>/models)")
    args = parser.parse_args(argv)
    if args.dir is None:
        from core.kernel.settings import load_settings

        args.dir = Path(load_settings().data_dir) / "models"
    print(fetch_model(args.dir, quiet=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
