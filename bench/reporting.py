"""What every bench script does at its end: the machine it ran on, and its results written as
JSON under bench/results/ (git-ignored) with one line saying where.

    from reporting import machine, write_results      # bench/ is the script's own directory
    write_results("jobs_throughput.json", report)       # or a full path (an --output option)
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def machine(load_at_start: tuple[float, ...] | None = None) -> dict[str, Any]:
    """The machine as the results should name it: cores, load average, Python, platform."""
    load = load_at_start if load_at_start is not None else os.getloadavg()
    return {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(), "platform": platform.platform()}


def write_results(where: str | Path, report: Any) -> Path:
    """Write `report` as indented JSON to `where` (a file name: under bench/results/) and say so."""
    path = Path(where)
    if not path.is_absolute() and path.parent == Path("."):
        path = RESULTS_DIR / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    try:
        shown = path.relative_to(ROOT)
    except ValueError:
        shown = path
    print(f"wrote {shown}")
    return path
