"""A real `hub serve` in a subprocess, for tests and benchmarks that need a Hub on 127.0.0.1
(official clients, several workers, signals). In-process tests use the `client` fixture instead.

    with live_hub(tmp_path, env={"HUB_RATE_LIMITS__ENABLED": "false"}) as hub:
        httpx.get(hub.url + "/healthz")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from core.testing import FAST_PASSWORD_HASHING, PASSWORD, unique_email

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveHub:
    url: str  # http://127.0.0.1:PORT
    port: int
    process: subprocess.Popen
    log_path: Path
    data_dir: Path

    @property
    def host(self) -> str:  # 127.0.0.1:PORT, for ws:// URLs
        return f"127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: no shutdown code runs."""
        os.killpg(self.process.pid, signal.SIGKILL)  # its own group (start_new_session)
        self.process.wait(timeout=10)


def hub_environment(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The machine's environment without its HUB_* settings, plus a private SQLite database in
    `data_dir`; `env` overrides (e.g. HUB_DATABASE_URL, HUB_REDIS_URL)."""
    result = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    result.update(
        HUB_ENV="test",
        HUB_DATA_DIR=str(data_dir),
        HUB_DATABASE_URL=f"sqlite://{data_dir / 'hub.sqlite3'}",
        HUB_SECRET_KEY="live-hub-secret-" + "x" * 40,
        HUB_LOG_LEVEL="WARNING",
        **{f"HUB_AUTH__{name.upper()}": str(value) for name, value in FAST_PASSWORD_HASHING.items()},
    )
    result.update(env or {})
    return result


@contextmanager
def live_hub(data_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None,
             startup_timeout: float = 90, server: str = "hypercorn") -> Iterator[LiveHub]:
    """Start `hub.py serve` (on `server`: hypercorn or uvicorn), wait until /healthz answers,
    stop it (SIGTERM, then kill) on exit."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "hub.py"), "serve", "--workers", str(workers), "--port", str(port),
         "--server", server],
        cwd=ROOT, env=hub_environment(data_dir, env), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # so that kill() reaches the workers too
    )
    hub = LiveHub(f"http://127.0.0.1:{port}", port, process, log_path, data_dir)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hub serve exited with {process.returncode}:\n{hub.log_tail()}")
            try:
                if httpx.get(f"{hub.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub serve did not answer within {startup_timeout:.0f} s:\n{hub.log_tail()}")
            time.sleep(0.2)
        yield hub
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def live_account(base_url: str, scopes: list[str] | None = None) -> dict:
    """Register an organization on a live Hub; its admin's token and an API key with `scopes`."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        email = unique_email("live")
        response = http.post("/api/auth/register", json={
            "email": email, "password": PASSWORD, "first_name": "Liv", "last_name": "E",
            "organization_name": "Live Org"})
        assert response.status_code == 201, response.text
        token = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        key = http.post("/api/v1/keys", headers=headers,
                        json={"name": "live client", "scopes": scopes or ["read", "write"]})
        assert key.status_code == 201, key.text
        body = key.json()
        return {"token": token, "headers": headers, "api_key": body.get("key") or body.get("api_key"),
                "email": email}
