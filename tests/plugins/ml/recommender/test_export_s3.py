"""Training-data export (seed 003 §3) to an S3-compatible store: real boto3 against moto's
S3 server on loopback (a real HTTP server, no patched client)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from tests.plugins.ml.recommender.support import interactions

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)


@pytest.fixture
def s3_export(hub, s3_endpoint):
    """Points the recommender's export at `bucket` on the moto server for one test (the
    session app's settings are restored afterwards)."""
    info = hub.plugins["recommender"]
    original = info.settings

    def configure(bucket: str, prefix: str = "") -> None:
        info.settings = type(original).model_validate({  # validated: the prefix gets its "/"
            **original.model_dump(), "export_s3_bucket": bucket, "export_s3_prefix": prefix,
            "export_s3_endpoint_url": s3_endpoint, "export_s3_region": "us-east-1",
            "export_s3_access_key_id": "testing", "export_s3_secret_access_key": "testing",
            "export_s3_timeout_seconds": 5, "export_s3_max_attempts": 2,
        })

    try:
        yield configure
    finally:
        info.settings = original


async def _run_export(internal_api, **dates) -> dict:
    accepted = await internal_api.call("post", "/internal/data/export", {"tenant_id": internal_api.org_id, **dates},
                                       status=202)
    return await internal_api.wait_for_job(accepted["job_id"])


async def test_export_goes_to_the_bucket_with_s3_paths(api, other_api, internal_api, hub, s3, s3_export):
    bucket = f"exports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3_export(bucket, prefix="hub/training")  # normalised to "hub/training/"
    await api.seed()
    await other_api.call("post", "/api/v1/interactions", {
        "user_id": "stranger-1", "item_id": "elsewhere-1", "interaction_type": "purchase",
        "timestamp": "2025-02-01T12:00:00Z"}, status=202)

    job = await _run_export(internal_api)
    assert job["status"] == "completed", job
    base = f"hub/training/tenants/{api.org_id}/"
    assert job["output_data"]["catalog"] == f"s3://{bucket}/{base}catalog.json"
    assert job["output_data"]["data_version"] == "v1"

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    days = sorted({row["timestamp"][:10] for row in interactions()})
    assert keys == {f"{base}catalog.json"} | {f"{base}training_data/{day}/part-00000.parquet" for day in days}

    catalog = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}catalog.json")["Body"].read())
    assert set(catalog) == {"tenant_id", "data_version", "partitions", "schema_version", "updated_at"}
    assert catalog["tenant_id"] == api.org_id and catalog["data_version"] == "v1"
    assert catalog["schema_version"] == "1.0" and catalog["updated_at"].endswith("Z")
    assert [p["date"] for p in catalog["partitions"]] == days
    total, users = 0, set()
    for partition in catalog["partitions"]:
        assert set(partition) == {"date", "path", "row_count", "file_size_mb"} and partition["file_size_mb"] > 0
        assert partition["path"] == f"s3://{bucket}/{base}training_data/{partition['date']}/"
        key = f"{base}training_data/{partition['date']}/part-00000.parquet"
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        assert table.num_rows == partition["row_count"]
        assert table.column_names == ["user_id", "item_id", "interaction_type", "timestamp", "label", "features"]
        users |= set(table.column("user_id").to_pylist())
        total += table.num_rows
    assert total == len(interactions())
    assert users == {row["user_id"] for row in interactions()} and "stranger-1" not in users
    # No local copy when the store is S3.
    local = Path(hub.settings.data_dir) / "recommender" / "exports" / "tenants" / api.org_id
    assert not local.exists()

    # A second export merges into the catalog in the bucket (earlier days kept, version bumped).
    again = await _run_export(internal_api, start_date="2025-02-01T00:00:00Z", end_date="2025-02-01T23:59:59Z")
    assert again["status"] == "completed", again
    catalog = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}catalog.json")["Body"].read())
    assert again["output_data"]["partitions"] == 1 and catalog["data_version"] == "v2"
    assert [p["date"] for p in catalog["partitions"]] == days


async def test_missing_bucket_fails_the_job_with_a_clear_error(api, internal_api, s3_export):
    bucket = f"missing-{uuid.uuid4().hex[:12]}"  # never created
    s3_export(bucket)
    await api.seed()
    job = await _run_export(internal_api)
    assert job["status"] == "failed", job
    error = json.dumps(job)
    assert bucket in error and "does not exist" in error
    assert job["attempts"] == 1  # a misconfigured store is not retried
