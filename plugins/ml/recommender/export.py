"""Training-data export (seed 003 §3): Parquet files per tenant and day, and a catalog.

    <data_dir>/recommender/exports/tenants/<tenant_id>/training_data/<YYYY-MM-DD>/part-00000.parquet
    <data_dir>/recommender/exports/tenants/<tenant_id>/catalog.json

Rows: user_id, item_id, interaction_type, timestamp (int64 unix seconds), label (0.0 for a
negative signal up to 1.0 for the strongest positive one: LABELS below, the order of the
engine's interaction weights), features {user_features, item_features, context_features}.
A day is exported whole each time (the file is replaced); `catalog.json` keeps the partitions
of earlier exports, replaces those re-exported, and bumps `data_version` (v1, v2, ...).
Days are UTC.

S3-compatible store: with `export_s3_bucket` set in `[plugins.recommender]` the export goes
to the bucket *instead of* the local data directory:

    s3://<bucket>/<prefix>tenants/<tenant_id>/training_data/<YYYY-MM-DD>/part-00000.parquet
    s3://<bucket>/<prefix>tenants/<tenant_id>/catalog.json

and the catalog's partition `path`s are `s3://.../<YYYY-MM-DD>/` URIs (same catalog shape).
No local copy is kept: the Parquet files are staged in a temporary directory
(<data_dir>/recommender/exports/.staging/), uploaded, and removed, so there is one catalog
(the one in the bucket, read back and merged on each export) and the data directory does not
grow. The day files are uploaded before the catalog, so the
catalog never names a file that is not there. boto3 (the `s3` extra) is imported only then;
its blocking calls run in a thread. A missing bucket, refused credentials or an unreachable
endpoint fail the job with a message naming the bucket/endpoint (bounded timeouts and
attempts: see `export_s3_timeout_seconds`, `export_s3_max_attempts`), never a hang.
Two exports of one tenant running at once may race on `data_version` (as locally).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from core import Hub, JobFailed
from plugins.ml.recommender import service
from plugins.ml.recommender.models import Item

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
    rows = await service.interactions_between(org_id, start, end).order_by("occurred_at").values_list(
        "user_id", "item_id", "interaction_type", "occurred_at", "context")
    items = {
        item_id: (category, tags)
        for item_id, category, tags in await Item.for_org(org_id).values_list("item_id", "category", "tags")
    }
    if progress:
        await progress(20, f"{len(rows)} interactions read")
    config = service.config(hub)
    if config.export_s3_bucket:
        return await _export_to_s3(hub, config, str(org_id), rows, items, progress)
    root = tenant_root(hub, org_id)
    partitions = await asyncio.to_thread(_write_partitions, root, rows, items)
    catalog = await asyncio.to_thread(_update_catalog, root, str(org_id), partitions)
    return {"data_version": catalog["data_version"], "partitions": len(partitions), "rows": len(rows),
            "catalog": str(root / "catalog.json")}


def _write_partitions(root: Path, rows: list, items: dict, uri_base: str | None = None) -> list[dict]:
    """Write the day files under `root`; `uri_base` (e.g. "s3://bucket/prefix/tenants/<id>/") names
    them in the catalog instead of their local file:// URI."""
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
            "date": day, "row_count": len(day_rows),
            "path": f"{uri_base}training_data/{day}/" if uri_base else directory.resolve().as_uri() + "/",
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
    catalog = _merge_catalog(previous, tenant_id, partitions)
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / ".catalog.json.tmp"
    temporary.write_text(json.dumps(catalog, indent=2))
    os.replace(temporary, path)
    return catalog


def _merge_catalog(previous: dict, tenant_id: str, partitions: list[dict]) -> dict:
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
    return catalog


# -- S3-compatible store --------------------------------------------------------------------------


async def _export_to_s3(hub: Hub, config: Any, tenant_id: str, rows: list, items: dict,
                        progress: Callable[[float, str], Awaitable[None]] | None) -> dict:
    bucket = config.export_s3_bucket
    base_key = f"{config.export_s3_prefix}tenants/{tenant_id}/"
    uri_base = f"s3://{bucket}/{base_key}"
    client = await asyncio.to_thread(_s3_client, config)
    staging_parent = service.data_root(hub) / "exports" / ".staging"  # the data disk, not /tmp
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{tenant_id}-", dir=staging_parent) as staging:
        root = Path(staging)
        partitions = await asyncio.to_thread(_write_partitions, root, rows, items, uri_base)
        if progress:
            await progress(50, f"{len(partitions)} partitions written, uploading to {uri_base}")
        for partition in partitions:
            day = partition["date"]
            local = root / "training_data" / day / "part-00000.parquet"
            await _s3_call(config, client.upload_file, str(local), bucket,
                           f"{base_key}training_data/{day}/part-00000.parquet")
    previous = await _s3_call(config, _s3_read_json, client, bucket, f"{base_key}catalog.json")
    catalog = _merge_catalog(previous, tenant_id, partitions)
    await _s3_call(config, client.put_object, Bucket=bucket, Key=f"{base_key}catalog.json",
                   Body=json.dumps(catalog, indent=2).encode(), ContentType="application/json")
    return {"data_version": catalog["data_version"], "partitions": len(partitions), "rows": len(rows),
            "catalog": f"{uri_base}catalog.json"}


def _s3_client(config: Any) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:
        raise JobFailed("export_s3_bucket is set but boto3 is not installed (pip install -e '.[s3]', or pip install boto3)") from error
    secret = config.export_s3_secret_access_key
    key_id = config.export_s3_access_key_id
    return boto3.session.Session().client(
        "s3",
        # The endpoint is admin configuration ([plugins.recommender] in hub.toml / HUB_* env),
        # never user input, so the outbound-URL (SSRF) checks of user-supplied URLs do not apply.
        endpoint_url=config.export_s3_endpoint_url,
        region_name=config.export_s3_region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,  # None: standard credential chain
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(connect_timeout=config.export_s3_timeout_seconds,
                      read_timeout=config.export_s3_timeout_seconds,
                      retries={"max_attempts": config.export_s3_max_attempts, "mode": "standard"}),
    )


def _s3_read_json(client: Any, bucket: str, key: str) -> dict:
    from botocore.exceptions import ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return {}  # the tenant's first export to this bucket
        raise
    return json.loads(body)


# Errors no retry of the job can fix (the store is misconfigured): the job fails at once.
_PERMANENT = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
              "AllAccessDisabled", "InvalidBucketName", "PermanentRedirect", "AuthorizationHeaderMalformed"}


async def _s3_call(config: Any, function: Callable, *args: Any, **kwargs: Any) -> Any:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"bucket {config.export_s3_bucket!r}" + (
        f" at {config.export_s3_endpoint_url}" if config.export_s3_endpoint_url else "")
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _PERMANENT:
            reason = "does not exist" if code == "NoSuchBucket" else f"refused the request ({code})"
            raise JobFailed(f"S3 export failed: {where} {reason}") from error
        raise JobFailed(f"S3 export failed: {where}: {code or error}", retry=True) from error
    except S3UploadFailedError as error:  # upload_file wraps the ClientError in its message
        text = str(error)
        if any(code in text for code in _PERMANENT):
            reason = "does not exist" if "NoSuchBucket" in text else "refused the upload"
            raise JobFailed(f"S3 export failed: {where} {reason}: {text}") from error
        raise JobFailed(f"S3 export failed: {where}: {text}", retry=True) from error
    except BotoCoreError as error:  # unreachable endpoint, timeouts, no credentials...
        raise JobFailed(f"S3 export failed: {where}: {error}", retry=True) from error
