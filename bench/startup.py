"""Start-up time: from `hub serve` being launched to its first 200 on /healthz.

Every plugin enabled (built-in ones and the example entry point), SQLite, on a warm machine:
one unmeasured start first migrates the database and writes the secret key, so the measured
starts are the everyday ones. The reference, measured in the same run, is the same wait for a
bare Quart app under hypercorn with the same worker count (bench/bare_app.py). Also measured:
importing `core.app` and building the app in a fresh interpreter (what each worker does before
it can answer), and which heavy libraries that imports.
Prints a table, writes bench/results/startup.json.

    .venv/bin/python bench/startup.py [--runs 5] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import free_port, hub_environment  # noqa: E402

HEAVY_MODULES = ("xgboost", "sklearn", "scipy", "pyarrow", "usearch", "llama_cpp", "numpy", "boto3")
POLL_SECONDS = 0.01
START_TIMEOUT = 60

BUILD_APP = f"""
import sys, time
started = time.perf_counter()
from core.app import create_app
create_app()
print(time.perf_counter() - started)
print(",".join(name for name in {HEAVY_MODULES!r} if name in sys.modules))
"""


def seconds_to_first_200(command: list[str], url: str, cwd: Path, env: dict | None) -> float:
    """Launch `command`, poll `url` until it answers 200, stop the process; the seconds it took."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited with {process.returncode}: {process.stderr.read()[-2000:]}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > START_TIMEOUT:
                raise RuntimeError(f"{command[:3]} did not answer within {START_TIMEOUT} s")
            time.sleep(POLL_SECONDS)
    finally:
        process.terminate()
        process.wait(timeout=30)


def summary(samples: list[float]) -> dict:
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3), "samples_s": [round(s, 3) for s in samples]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-startup-"))
    env = hub_environment(data_dir)
    env.pop("HUB_SECRET_KEY")  # the everyday embedded set-up: the key file written by the first start

    def serve() -> float:
        port = free_port()
        return seconds_to_first_200(
            [sys.executable, str(ROOT / "hub.py"), "serve", "--port", str(port), "--workers", str(args.workers)],
            f"http://127.0.0.1:{port}/healthz", ROOT, env)

    def bare() -> float:
        port = free_port()
        return seconds_to_first_200(
            [sys.executable, "-m", "hypercorn", "bare_app:app", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            f"http://127.0.0.1:{port}/items", ROOT / "bench", None)

    first_start = serve()  # migrates, writes the secret key; not an everyday start
    hub_samples, bare_samples, build_samples = [], [], []
    heavy = ""
    for _ in range(args.runs):  # interleaved, so that load on the machine hits both alike
        bare_samples.append(bare())
        hub_samples.append(serve())
        built = subprocess.run([sys.executable, "-c", BUILD_APP], cwd=ROOT, env=env, capture_output=True,
                               text=True, check=True).stdout.split("\n")
        build_samples.append(float(built[0]))
        heavy = built[1]

    report = {
        "workers": args.workers,
        "runs": args.runs,
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine slows every figure
        "hub_serve_to_healthz": summary(hub_samples),
        "bare_hypercorn_to_first_200": summary(bare_samples),
        "import_and_create_app": summary(build_samples),
        "first_start_with_migrations_s": round(first_start, 3),
        "heavy_modules_imported_by_create_app": [name for name in heavy.split(",") if name],
    }
    report["hub_over_bare_s"] = round(report["hub_serve_to_healthz"]["median_s"]
                                      - report["bare_hypercorn_to_first_200"]["median_s"], 3)
    print(f"{'':36} {'median':>8} {'min':>8} {'max':>8}")
    for name in ("hub_serve_to_healthz", "bare_hypercorn_to_first_200", "import_and_create_app"):
        row = report[name]
        print(f"{name:36} {row['median_s']:>7.2f}s {row['min_s']:>7.2f}s {row['max_s']:>7.2f}s")
    print(f"first start (migrations, secret key): {first_start:.2f}s; hub over bare: {report['hub_over_bare_s']:.2f}s; "
          f"load average {report['load_average_1min']}")
    print(f"heavy modules imported by create_app: {', '.join(report['heavy_modules_imported_by_create_app']) or 'none'}")
    write_results("startup.json", report)


if __name__ == "__main__":
    main()
