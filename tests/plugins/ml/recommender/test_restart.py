"""A real `hub serve`: the active model survives a restart (read back from the data
directory), and every worker process of a multi-worker server serves it."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.helpers import PASSWORD
from tests.live_server import live_hub
from tests.plugins.ml.recommender.support import FAST_TRAINING, catalog, interactions

ENV = {"HUB_RATE_LIMITS__ENABLED": "false"}


def _login(http: httpx.Client, email: str) -> dict:
    response = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _recommend(http: httpx.Client, headers: dict) -> dict:
    response = http.post("/api/v1/recommendations", json={"user_id": "user-1", "count": 5}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_restart_restores_the_served_model(tmp_path):
    email = f"restart-{uuid.uuid4().hex[:8]}@example.com"
    with live_hub(tmp_path, env=ENV) as hub, httpx.Client(base_url=hub.url, timeout=60) as http:
        registered = http.post("/api/auth/register", json={
            "email": email, "password": PASSWORD, "first_name": "R", "last_name": "S", "organization_name": "Restart"})
        assert registered.status_code == 201, registered.text
        headers = _login(http, email)
        assert http.post("/api/v1/items", json={"items": catalog()}, headers=headers).json()["rejected"] == 0
        uploaded = http.post("/api/v1/recommender/interactions", json={"interactions": interactions()}, headers=headers)
        assert uploaded.json()["accepted"] == len(interactions())
        accepted = http.post("/api/v1/recommender/training", headers=headers,
                             json={"training_config": {"hyperparameters": FAST_TRAINING}})
        assert accepted.status_code == 202, accepted.text
        for _ in range(600):  # a bound, not a timing assertion
            job = http.get(f"/api/v1/jobs/{accepted.json()['job_id']}", headers=headers).json()
            if job["status"] not in ("pending", "running"):
                break
            time.sleep(0.1)
        assert job["status"] == "completed", job
        before = _recommend(http, headers)
        assert before["metadata"]["model_version"] == "v1" and before["recommendations"]

    # same data directory, two worker processes this time: each reads the model from disk
    with live_hub(tmp_path, workers=2, env=ENV) as hub, httpx.Client(base_url=hub.url, timeout=60) as http:
        headers = _login(http, email)
        answers = [_recommend(http, headers) for _ in range(6)]
    for after in answers:
        assert after["metadata"]["model_version"] == "v1"
        assert after["recommendations"] == before["recommendations"]
    assert answers[0]["metadata"]["cache_hit"] is False
