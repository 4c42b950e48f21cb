"""Helpers of the recommender tests: a synthetic catalog with users who each prefer one category,
and an Api that uploads it and trains through the API (the rest comes from the test kit)."""

from __future__ import annotations

import random

from core.testing import Api

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


class RecommenderApi(Api):
    """The test kit's Api with the recommender's shortcuts."""

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
