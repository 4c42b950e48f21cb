"""The file-processor node: a file uploaded through POST /api/files (the core's storage) read by
a workflow step as rows, streamed, within the step's limits, and only in its own organization."""

from __future__ import annotations

import io
import json

from quart.datastructures import FileStorage

from tests.plugins.workflows.support import edge, node, steps_by_node, workflow


async def upload(api, data: bytes, name: str, content_type: str | None = None) -> dict:
    part = FileStorage(io.BytesIO(data), filename=name, content_type=content_type)
    response = await api.client.post("/api/files", files={"file": part}, headers=api.headers)
    body = await response.get_json()
    assert response.status_code == 201, body
    return body


def reading(config: dict) -> dict:
    """start -> read (file-processor with `config`) -> count"""
    return workflow("Read a file", [
        node("start", "webhook-trigger"),
        node("read", "file-processor", config),
        node("count", "data-transformation", {"mapping": {"rows": "{{ input.row_count }}",
                                                          "first": "{{ input.rows[0] }}"}}),
    ], [edge("start", "read"), edge("read", "count")])


CSV = ('name,score,note\nAda,91,"likes ""math""\nand tea"\nBob,42,\nCyd,77,ok\n').encode()


async def test_a_csv_upload_is_read_as_rows(api):
    uploaded = await upload(api, CSV, "scores.csv", "text/csv")
    created = await api.create_workflow(reading({"file_id": "{{ inputs.file_id }}"}))
    execution = await api.run(created["id"], {"file_id": uploaded["id"]})
    assert execution["status"] == "completed", execution
    output = steps_by_node(execution)["read"]["output_data"]["main"]
    assert output["rows"] == [
        {"name": "Ada", "score": "91", "note": 'likes "math"\nand tea'},
        {"name": "Bob", "score": "42", "note": ""},
        {"name": "Cyd", "score": "77", "note": "ok"},
    ]
    assert output["row_count"] == 3 and output["truncated"] is False
    assert output["file"] == {"id": uploaded["id"], "name": "scores.csv", "content_type": "text/csv",
                              "size": len(CSV), "format": "csv"}
    assert execution["output_data"]["count"] == {"rows": 3, "first": output["rows"][0]}


async def test_options_select_fields_limit_rows_and_read_headerless_files(api):
    uploaded = await upload(api, b"a;b;c\n1;2;3\n4;5;6\n7;8;9\n", "plain.txt")  # plain text: read as CSV
    created = await api.create_workflow(reading({
        "file_id": uploaded["id"], "delimiter": ";", "has_header": False, "max_rows": 2,
        "select": ["column_1", "column_3"]}))
    execution = await api.run(created["id"])
    output = steps_by_node(execution)["read"]["output_data"]["main"]
    assert output["rows"] == [{"column_1": "a", "column_3": "c"}, {"column_1": "1", "column_3": "3"}]
    assert output["row_count"] == 2 and output["truncated"] is True


async def test_a_json_upload_is_read_as_rows(api):
    data = [{"id": i, "tags": ["x"]} for i in range(5)] + [7]
    uploaded = await upload(api, json.dumps(data).encode(), "items.json", "application/json")
    created = await api.create_workflow(reading({"file_id": uploaded["id"], "max_rows": 10, "select": ["id"]}))
    execution = await api.run(created["id"])
    output = steps_by_node(execution)["read"]["output_data"]["main"]
    assert output["rows"] == [{"id": i} for i in range(5)] + [{"id": None}]
    assert output["row_count"] == 6 and output["file"]["format"] == "json"


async def test_a_file_over_the_steps_limit_fails_the_step_clearly(api):
    uploaded = await upload(api, b"n\n" + b"1\n" * 2000, "big.csv")
    created = await api.create_workflow(reading({"file_id": uploaded["id"], "max_bytes": 1000}))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed"
    step = steps_by_node(execution)["read"]
    assert step["status"] == "failed" and "over this step's max_bytes (1000)" in step["error_message"]


async def test_another_organizations_file_is_not_found(api, other_api):
    theirs = await upload(other_api, CSV, "secret.csv")
    created = await api.create_workflow(reading({"file_id": theirs["id"]}))
    execution = await api.run(created["id"])
    assert execution["status"] == "failed"
    step = steps_by_node(execution)["read"]
    assert step["error_message"] == f"file {theirs['id']} not found in this organization"
    assert "secret" not in json.dumps(execution)


async def test_a_file_of_another_kind_is_refused(api):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    uploaded = await upload(api, png, "logo.png", "image/png")
    for config in ({"file_id": uploaded["id"]}, {"file_id": uploaded["id"], "format": "csv"}):
        execution = await api.run((await api.create_workflow(reading(config)))["id"])
        assert execution["status"] == "failed"
        assert "image/png" in steps_by_node(execution)["read"]["error_message"]


async def test_the_seeds_name_is_listed_among_the_node_types(api):
    types = (await api.get("/api/workflows/node-types"))["node_types"]
    processor = next(entry for entry in types if entry["name"] == "workflows.file-processor")
    assert processor["aliases"] == ["file-processor"] and "file_id" in processor["config_schema"]["properties"]
