"""Helpers of the recommender tests: a small API client per caller, a synthetic catalog with
users who each prefer one category, and training run to completion through the API."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from tests.helpers import Account, assert_error

CATEGORIES = ("books", "electronics", "groceries", "toys")
ITEMS_PER_CATEGORY = 10
USERS = 24
# small and quick: the engine's defaults are for real catalogs
FAST_TRAINING = {"epochs": 3, "ranker_rounds": 10, "embedding_dim": 16}


def catalog() -> list[dict]:
    return [
        {"item_id": f"{category}-{n}", "title": f"{category.title()} product {n}",
         "description": f"A fine {category} item number {n}", "category": category,
         "tags": [category, f"series-{n % 3}"], "created_at": f"2025-01-{n + 1:02d}T00:00:00Z"}
        for category in CATEGORIES for n in range(ITEMS_PER_CATEGORY)
    ]


def user_category(user: str) -> str:
    return CATEGORIES[int(user.split("-")[1]) % len(CATEGORIES)]


def interactions(seed: int = 7) -> list[dict]:
    """Each user-N interacts mostly with items of one category (N mod 4)."""
    rng = random.Random(seed)
    rows = []
    for u in range(USERS):
        user = f"user-{u}"
        favourite = user_category(user)
        picks = rng.sample(range(ITEMS_PER_CATEGORY), 6)
        for step, n in enumerate(picks):
            kind = "purchase" if step % 3 == 0 else ("click" if step % 3 == 1 else "view")
            rows.append({"user_id": user, "item_id": f"{favourite}-{n}", "interaction_type": kind,
                         "timestamp": f"2025-02-{step + 1:02d}T{u % 24:02d}:00:00Z"})
    return rows


@dataclass
class Api:
    client: Any
    headers: dict
    account: Account | None = None

    @classmethod
    def of(cls, client, account: Account) -> "Api":
        return cls(client, account.headers, account)

    @classmethod
    def with_key(cls, client, key: str, account: Account | None = None) -> "Api":
        return cls(client, {"X-API-Key": key}, account)

    @property
    def org_id(self) -> str:
        return self.account.org_id

    async def call(self, method: str, path: str, json: Any = None, status: int | None = 200, **kwargs) -> Any:
        response = await getattr(self.client, method)(path, json=json, headers=self.headers, **kwargs)
        body = await response.get_json()
        if status is not None:
            assert response.status_code == status, (response.status_code, body)
        return body

    async def error(self, method: str, path: str, json: Any, status: int, code: str) -> dict:
        response = await getattr(self.client, method)(path, json=json, headers=self.headers)
        body = await response.get_json()
        assert_error(response.status_code, body, status, code)
        return body["error"]

    async def upload_items(self, items: list[dict]) -> dict:
        return await self.call("post", "/api/v1/items", {"items": items})

    async def upload_interactions(self, rows: list[dict]) -> dict:
        return await self.call("post", "/api/v1/recommender/interactions", {"interactions": rows})

    async def recommend(self, user_id: str, count: int = 5, **body) -> dict:
        return await self.call("post", "/api/v1/recommendations", {"user_id": user_id, "count": count, **body})

    async def seed(self) -> None:
        result = await self.upload_items(catalog())
        assert result["rejected"] == 0, result
        result = await self.upload_interactions(interactions())
        assert result["rejected"] == 0, result

    async def train(self, status: str = "completed", **training_config) -> dict:
        """Trigger training, wait for the job (it runs inside the test app) and return it."""
        config = {"model_type": "matrix_factorization", "hyperparameters": dict(FAST_TRAINING), **training_config}
        accepted = await self.call("post", "/api/v1/recommender/training", {"training_config": config}, status=202)
        job = await self.wait_for_job(accepted["job_id"])
        assert job["status"] == status, job
        return {**accepted, "job": job}

    async def wait_for_job(self, job_id: str) -> dict:
        for _ in range(1200):  # a bound, not a timing assertion: a stuck job fails the test
            job = await self.call("get", f"/api/v1/jobs/{job_id}")
            if job["status"] in ("completed", "failed", "cancelled", "timeout"):
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")
