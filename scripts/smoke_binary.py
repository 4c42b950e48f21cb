"""Smoke test of the one-file binary (scripts/build_binary.sh): run it as a user would on a
machine without Python, from an empty directory, with a minimal environment (no venv, no
PYTHONPATH, no HUB_* settings; PATH=/usr/bin:/bin), and check:

  - `hub plugins` lists the core and every built-in plugin of the build (build/binary/plugins.txt)
    plus a third-party plugin folder given by HUB_PLUGINS_PATH (tests/plugins_path_sample);
  - `hub migrate` creates ./data/hub.sqlite3; `hub create-admin` creates an organization;
  - `hub serve` starts (time to /healthz is printed), then over HTTP: register, log in (also as the
    create-admin user), create / read / update / list / delete a lead, list the plugins, write and
    read a memo through the folder plugin, the llm answering 503 (llama_cpp is not in the binary);
  - SIGTERM stops the server with exit status 0.

    .venv/bin/python scripts/smoke_binary.py [--binary dist/hub] [--json bench/results/binary.json]

Exit status 0 when everything passed; the first failure is printed with the server's log.
The client side (this script) uses the venv; the binary never does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "smoke-test-password-1"
MINIMAL_ENV_KEYS = ("PATH", "HOME", "LANG", "TMPDIR", "HUB_ADMIN_PASSWORD", "HUB_PLUGINS_PATH")
EXTRA_ENV: dict[str, str] = {}  # --env KEY=VALUE: HUB_* settings given to every command


class SmokeFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailed(what)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def minimal_env(home: Path, **extra: str) -> dict[str, str]:
    """What `env -i` leaves plus the few variables a service manager would set."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(home / "tmp")}
    env.update(extra)
    assert set(env) <= set(MINIMAL_ENV_KEYS), env
    return {**env, **EXTRA_ENV}


def run(binary: Path, cwd: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ hub {' '.join(args)}  -> exit {result.returncode}")
    return result


def smoke(binary: Path, workdir: Path, plugins_file: Path) -> dict:
    report: dict = {"binary": str(binary), "size_bytes": binary.stat().st_size}
    (workdir / "tmp").mkdir()
    shutil.copytree(ROOT / "tests" / "plugins_path_sample", workdir / "plugins.d")
    env = minimal_env(workdir, HUB_PLUGINS_PATH="plugins.d")  # relative to the working directory

    started = time.monotonic()
    listing = run(binary, workdir, env, "plugins")
    report["plugins_command_seconds"] = round(time.monotonic() - started, 2)
    check(listing.returncode == 0, f"hub plugins failed: {listing.stderr[-2000:]}")
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:] if line.strip()}
    expected = [line.split()[0] for line in plugins_file.read_text().splitlines() if line.strip()]
    missing = sorted(set(expected) - set(rows))
    check(not missing, f"built-in plugins missing from the binary's `hub plugins`: {missing}\n{listing.stdout}")
    check(rows.get("core", [None, None, None])[2] == "core", f"no core in `hub plugins`:\n{listing.stdout}")
    check(rows.get("hub_memos", [None] * 3)[2] == "plugins_path", f"plugins_path plugin not listed:\n{listing.stdout}")
    report["plugins"] = sorted(rows)

    migrated = run(binary, workdir, env, "migrate")
    check(migrated.returncode == 0 and "Database is up to date." in migrated.stdout,
          f"hub migrate failed: {migrated.stdout[-1000:]}{migrated.stderr[-2000:]}")
    check((workdir / "data" / "hub.sqlite3").is_file(), "hub migrate made no ./data/hub.sqlite3")
    check("applied hub_memos.0001_initial" in migrated.stdout, f"the folder plugin's migration did not run:\n{migrated.stdout}")

    admin = run(binary, workdir, {**env, "HUB_ADMIN_PASSWORD": PASSWORD}, "create-admin", "--email",
                "admin@smoke.example", "--organization", "Smoke Inc")
    check(admin.returncode == 0 and "Created admin admin@smoke.example" in admin.stdout,
          f"hub create-admin failed: {admin.stdout}{admin.stderr[-2000:]}")

    port = free_port()
    log_path = workdir / "serve.log"
    with open(log_path, "wb") as log:
        started = time.monotonic()
        server = subprocess.Popen([str(binary), "serve", "--port", str(port)], cwd=workdir, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            check(server.poll() is None, f"hub serve exited with {server.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            check(time.monotonic() - started < 180, "hub serve did not answer /healthz within 180 s")
            time.sleep(0.1)
        report["seconds_to_healthz"] = round(time.monotonic() - started, 2)
        print(f"/healthz answered {report['seconds_to_healthz']} s after `hub serve` started")
        exercise(url)
    except BaseException:
        print(f"--- serve.log\n{log_path.read_text(errors='replace')[-5000:]}")
        if server.poll() is None:
            server.kill()
            server.wait()
        raise
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise SmokeFailed("hub serve did not stop within 60 s of SIGTERM")
    report["seconds_to_stop"] = round(time.monotonic() - started, 2)
    if status != 0:
        print(f"--- serve.log\n{log_path.read_text(errors='replace')[-5000:]}")
    check(status == 0, f"hub serve exited with {status} on SIGTERM, not 0")
    print(f"SIGTERM: stopped with exit status 0 in {report['seconds_to_stop']} s")
    return report


def exercise(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        registered = http.post("/api/auth/register", json={
            "email": "owner@smoke.example", "password": PASSWORD, "first_name": "Sam", "last_name": "Oke",
            "organization_name": "Smoke Two"})
        check(registered.status_code == 201, f"register: {registered.status_code} {registered.text}")
        login = http.post("/api/auth/login", json={"email": "owner@smoke.example", "password": PASSWORD})
        check(login.status_code == 200, f"login: {login.status_code} {login.text}")
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        admin = http.post("/api/v1/auth/login", json={"email": "admin@smoke.example", "password": PASSWORD})
        check(admin.status_code == 200, f"create-admin's user cannot log in: {admin.status_code} {admin.text}")
        print("registered and logged in (and the create-admin user too)")

        lead = {"name": "Ada Lovelace", "email": "ada@smoke.example", "company": "Analytical Engines", "value": 1200}
        created = http.post("/api/leads", headers=headers, json=lead)
        check(created.status_code == 201, f"create lead: {created.status_code} {created.text}")
        lead_id = created.json()["id"]
        read = http.get(f"/api/leads/{lead_id}", headers=headers)
        check(read.status_code == 200 and read.json()["email"] == lead["email"], f"read lead: {read.text}")
        updated = http.put(f"/api/leads/{lead_id}", headers=headers, json={"status": "contacted"})
        check(updated.status_code == 200 and updated.json()["status"] == "contacted", f"update lead: {updated.text}")
        listed = http.get("/api/leads", headers=headers)
        check(listed.status_code == 200 and [x["id"] for x in listed.json()["leads"]] == [lead_id],
              f"list leads: {listed.text}")
        other = http.get(f"/api/leads/{lead_id}", headers={
            "Authorization": f"Bearer {admin.json()['access_token']}"})
        check(other.status_code == 404, f"another organization reads the lead: {other.status_code}")
        deleted = http.delete(f"/api/leads/{lead_id}", headers=headers)
        check(deleted.status_code in (200, 204), f"delete lead: {deleted.status_code} {deleted.text}")
        check(http.get(f"/api/leads/{lead_id}", headers=headers).status_code == 404, "deleted lead still there")
        print("lead created, read, updated, listed, deleted")

        plugins = http.get("/api/v1/plugins", headers=headers)
        check(plugins.status_code == 200, f"list plugins: {plugins.status_code} {plugins.text}")
        names = {p["name"] for p in plugins.json()["plugins"]} if isinstance(plugins.json(), dict) else set()
        check({"crm", "hub_memos"} <= names, f"GET /api/v1/plugins: {plugins.text[:2000]}")
        print(f"GET /api/v1/plugins: {len(names)} plugins")

        memo = http.post("/api/memos", headers=headers, json={"text": " from   the folder "})
        check(memo.status_code == 201 and memo.json()["text"] == "from the folder", f"memo: {memo.text}")
        check(http.get("/api/memos", headers=headers).json()["memos"] == [memo.json()], "memo list")
        print("the plugins_path plugin serves its routes and table")

        recommend(http, headers)

        # files that are not Python: the API docs' vendored assets, the dashboard's templates and static files
        for path, expected in (("/docs", "text/html"), ("/docs/assets/swagger-ui/swagger-ui.css", "text/css"),
                               ("/dashboard/login", "text/html"), ("/dashboard/static/dashboard.css", "text/css")):
            page = http.get(path)
            check(page.status_code == 200 and page.headers["content-type"].startswith(expected) and page.content,
                  f"GET {path}: {page.status_code} {page.headers.get('content-type')}")
        print("API docs assets, dashboard templates and static files are served")

        models = http.get("/v1/models", headers=headers)
        check(models.status_code == 200 and models.json()["data"], f"GET /v1/models: {models.text[:500]}")
        chat = http.post("/v1/chat/completions", headers=headers,
                         json={"model": models.json()["data"][0]["id"], "messages": [{"role": "user", "content": "hi"}]})
        check(chat.status_code == 503, f"llm without llama_cpp: {chat.status_code} {chat.text[:500]}")
        print(f"llm without llama_cpp: 503 {chat.json().get('error', {}).get('code')}")


def recommend(http: httpx.Client, headers: dict) -> None:
    """The recommender end to end (numpy, scikit-learn, xgboost, usearch inside the binary): a
    catalogue, interactions, a small training run as an in-process job, recommendations."""
    categories = ["books", "music", "garden", "kitchen"]
    items = [{"item_id": f"{c}-{n}", "title": f"{c} {n}", "category": c, "tags": [c]}
             for c in categories for n in range(10)]
    added = http.post("/api/v1/items", headers=headers, json={"items": items})
    check(added.status_code in (200, 201) and added.json()["rejected"] == 0, f"items: {added.text[:500]}")
    interactions = [{"user_id": f"user-{u}", "item_id": f"{categories[u % 4]}-{(u + step) % 10}",
                     "interaction_type": ("purchase", "click", "view")[step % 3],
                     "timestamp": f"2025-02-{step + 1:02d}T{u % 24:02d}:00:00Z"}
                    for u in range(40) for step in range(6)]
    uploaded = http.post("/api/v1/recommender/interactions", headers=headers, json={"interactions": interactions})
    check(uploaded.status_code in (200, 201, 202) and uploaded.json()["accepted"] == len(interactions),
          f"interactions: {uploaded.text[:500]}")
    training = http.post("/api/v1/recommender/training", headers=headers, json={"training_config": {
        "hyperparameters": {"epochs": 3, "ranker_rounds": 10, "embedding_dim": 16}}})
    check(training.status_code == 202, f"training: {training.status_code} {training.text[:500]}")
    deadline = time.monotonic() + 300
    while True:
        job = http.get(f"/api/v1/jobs/{training.json()['job_id']}", headers=headers).json()
        if job["status"] not in ("pending", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(job["status"] == "completed", f"training job: {job}")
    answer = http.post("/api/v1/recommendations", headers=headers, json={"user_id": "user-1", "count": 5})
    check(answer.status_code == 200 and answer.json()["recommendations"], f"recommendations: {answer.text[:500]}")
    check(answer.json()["metadata"]["model_version"] == "v1", f"recommendations: {answer.text[:500]}")
    print(f"recommender: trained v1 in process, {len(answer.json()['recommendations'])} recommendations")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=ROOT / "dist" / "hub")
    parser.add_argument("--plugins", type=Path, default=ROOT / "build" / "binary" / "plugins.txt",
                        help="the built-in plugins of the build (written by scripts/binary/hub.spec)")
    parser.add_argument("--json", type=Path, help="also write the numbers (size, seconds to /healthz) here")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--env", action="append", default=[], metavar="HUB_KEY=VALUE",
                        help="a setting for every command (e.g. HUB_DATABASE_URL=postgres://...)")
    args = parser.parse_args()
    for item in args.env:
        key, _, value = item.partition("=")
        if not key.startswith("HUB_"):
            parser.error(f"--env {item}: only HUB_* settings")
        EXTRA_ENV[key] = value
    binary = args.binary.resolve()
    if not binary.is_file():
        print(f"smoke: no binary at {binary} (scripts/build_binary.sh)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="hub-binary-smoke-"))
    try:
        report = smoke(binary, workdir, args.plugins)
    except (SmokeFailed, AssertionError, subprocess.TimeoutExpired, httpx.HTTPError) as error:
        print(f"smoke: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report["size_mib"] = round(report["size_bytes"] / 1024 / 1024, 1)
    print(f"smoke: OK: {report['size_mib']} MiB, /healthz after {report['seconds_to_healthz']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
