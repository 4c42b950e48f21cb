"""Training-data export (seed 003 §3): Parquet files per tenant and day, and a catalog.

    <data_dir>/recommender/exports/tenants/<tenant_id>/training_data/<YYYY-MM-DD>/part-00000.parquet
    <data_dir>/recommender/exports/tenants/<tenant_id>/catalog.json

Rows: user_id, item_id, interaction_type, timestamp (int64 unix seconds), label (0.0 for a
negative signal up to 1.0 for the strongest positive one: LABELS below, the order of the
engine's interaction weights), features {user_features, item_features, context_features}.
A day is exported whole each time (the file is replaced); `catalog.json` keeps the partitions
of earlier exports, replaces those re-exported, and bumps `data_version` (v1, v2, ...).
Days are UTC. Only the local data directory is supported as the store (no S3 yet).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from core.state import Hub
from plugins.ml.recommender import service
from plugins.ml.recommender.models import Interaction, Item
from plugins.ml.recommender.schemas import parse_utc_timestamp

SCHEMA_VERSION = "1.0"
LABELS = {
    "purchase": 1.0, "add_to_cart": 0.8, "like": 0.8, "click": 0.5, "view": 0.3,
    "remove_from_cart": 0.0, "dislike": 0.0,
}
SCHEMA = pa.schema([
    ("user_id", pa.string()),
    ("item_id", pa.string()),
    ("interaction_type", pa.string()),
    ("timestamp", pa.int64()),
    ("label", pa.float64()),
    ("features", pa.struct([
        ("user_features", pa.struct([("interaction_count", pa.int64()), ("distinct_items", pa.int64())])),
        ("item_features", pa.struct([("category", pa.string()), ("tags", pa.list_(pa.string())),
                                     ("popularity", pa.int64())])),
        ("context_features", pa.struct([("device_type", pa.string()), ("session_id", pa.string())])),
    ])),
])


def tenant_root(hub: Hub, org_id: Any) -> Path:
    return service.data_root(hub) / "exports" / "tenants" / str(org_id)


async def export_training_data(hub: Hub, org_id: Any, start: str | None, end: str | None,
                               progress: Callable[[float, str], Awaitable[None]] | None = None) -> dict:
    query = Interaction.for_org(org_id)
    if start:
        query = query.filter(occurred_at__gte=parse_utc_timestamp(start))
    if end:
        query = query.filter(occurred_at__lte=parse_utc_timestamp(end))
    rows = await query.order_by("occurred_at").values_list(
        "user_id", "item_id", "interaction_type", "occurred_at", "context")
    items = {
        item_id: (category, tags)
        for item_id, category, tags in await Item.for_org(org_id).values_list("item_id", "category", "tags")
    }
    if progress:
        await progress(20, f"{len(rows)} interactions read")
    root = tenant_root(hub, org_id)
    partitions = await asyncio.to_thread(_write_partitions, root, rows, items)
    catalog = await asyncio.to_thread(_update_catalog, root, str(org_id), partitions)
    return {"data_version": catalog["data_version"], "partitions": len(partitions), "rows": len(rows),
            "catalog": str(root / "catalog.json")}


def _write_partitions(root: Path, rows: list, items: dict) -> list[dict]:
    per_user = Counter(row[0] for row in rows)
    distinct = defaultdict(set)
    for row in rows:
        distinct[row[0]].add(row[1])
    popularity = Counter(row[1] for row in rows if LABELS[row[2]] > 0)
    by_day: dict[str, list] = defaultdict(list)
    for row in rows:
        by_day[row[3].astimezone(timezone.utc).date().isoformat()].append(row)
    partitions = []
    for day, day_rows in sorted(by_day.items()):
        table = pa.Table.from_pylist([_record(row, items, per_user, distinct, popularity) for row in day_rows],
                                     schema=SCHEMA)
        directory = root / "training_data" / day
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / "part-00000.parquet"
        temporary = directory / ".part-00000.parquet.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, final)  # readers see the old day or the new one, never half a file
        partitions.append({
            "date": day, "path": directory.resolve().as_uri() + "/", "row_count": len(day_rows),
            "file_size_mb": round(final.stat().st_size / 1_048_576, 6),
        })
    return partitions


def _record(row: tuple, items: dict, per_user: Counter, distinct: dict, popularity: Counter) -> dict:
    user_id, item_id, kind, occurred_at, context = row
    category, tags = items.get(item_id, (None, []))
    context = context if isinstance(context, dict) else {}
    return {
        "user_id": user_id, "item_id": item_id, "interaction_type": kind,
        "timestamp": int(occurred_at.timestamp()), "label": LABELS[kind],
        "features": {
            "user_features": {"interaction_count": per_user[user_id], "distinct_items": len(distinct[user_id])},
            "item_features": {"category": category, "tags": list(tags or []), "popularity": popularity[item_id]},
            "context_features": {"device_type": _text(context.get("device_type")),
                                 "session_id": _text(context.get("session_id"))},
        },
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]


def _update_catalog(root: Path, tenant_id: str, partitions: list[dict]) -> dict:
    path = root / "catalog.json"
    previous: dict = {}
    if path.exists():
        previous = json.loads(path.read_text())
    known = {p["date"]: p for p in previous.get("partitions", [])}
    known.update({p["date"]: p for p in partitions})
    number = int(str(previous.get("data_version", "v0")).lstrip("v") or 0) + 1
    catalog = {
        "tenant_id": tenant_id,
        "data_version": f"v{number}",
        "partitions": [known[day] for day in sorted(known)],
        "schema_version": SCHEMA_VERSION,
        "updated_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / ".catalog.json.tmp"
    temporary.write_text(json.dumps(catalog, indent=2))
    os.replace(temporary, path)
    return catalog
