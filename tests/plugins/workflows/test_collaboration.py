"""Live collaboration on a workflow (WS /ws/workflows/{id}/collaboration): operations relayed to
the other editors, changes saved as versions, stale changes answered with a conflict."""

from __future__ import annotations

import asyncio

from tests.plugins.workflows.support import node, transform, workflow

A_NODE = {"id": "added", "type": "data-transformation", "title": "Added", "config": {"mapping": {"x": 1}}}


def change(operation: str, data: dict, base_version: int | None) -> dict:
    return {"type": "workflow_collaboration", "operation": operation, "data": data, "base_version": base_version}


async def nothing_more(socket, seconds: float = 0.3) -> bool:
    try:
        message = await socket.receive(timeout=seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError(f"unexpected message {message}")


async def test_two_editors_see_each_others_changes_and_stale_ones_conflict(api, admin, member_of, ws):
    created = await api.create_workflow(workflow("Shared", [node("start", "webhook-trigger"), transform("a", {})],
                                                 [{"id": "e1", "source_node_id": "start", "target_node_id": "a"}]))
    path = f"/ws/workflows/{created['id']}/collaboration"
    other = await member_of(admin, "developer")
    async with ws(admin, path) as alice, ws(other, path) as bob:
        await alice.send(change("node_added", A_NODE, 1))
        assert await alice.event("applied") == {"type": "applied", "workflow_id": created["id"],
                                                "operation": "node_added", "version": 2}
        seen = await bob.event("workflow_collaboration")
        assert (seen["user_id"], seen["operation"], seen["data"]["id"], seen["version"]) == (
            admin.user_id, "node_added", "added", 2)

        await alice.send(change("cursor_moved", {"x": 10, "y": 20}, None))
        cursor = await bob.event("workflow_collaboration")
        assert (cursor["operation"], cursor["data"]) == ("cursor_moved", {"x": 10, "y": 20})
        assert await nothing_more(alice)  # nobody gets their own operations back

        await bob.send(change("node_updated", {"id": "a", "title": "Renamed"}, 1))  # stale: version 2 exists
        conflict = await bob.event("conflict")
        assert conflict["version"] == 2
        await bob.send(change("node_updated", {"id": "a", "title": "Renamed"}, 2))
        assert (await bob.event("applied"))["version"] == 3
        assert (await alice.event("workflow_collaboration"))["operation"] == "node_updated"

        await bob.send(change("edge_added", {"id": "e2", "source_node_id": "a", "target_node_id": "ghost"}, 3))
        refused = await bob.event("error")
        assert refused["error"]["code"] == "VALIDATION_ERROR"

    saved = await api.get(f"/api/workflows/{created['id']}")
    assert saved["version"] == 3 and {n["id"]: n["title"] for n in saved["nodes"]}["a"] == "Renamed"
    assert "added" in {n["id"] for n in saved["nodes"]}  # unconnected while editing: allowed
    assert (await api.get(f"/api/workflows/{created['id']}/versions/2"))["nodes"][1]["title"] == "A"


async def test_a_viewer_follows_but_cannot_change(api, admin, member_of, ws):
    created = await api.create_workflow(workflow("Read only", [transform("a", {})]))
    viewer = await member_of(admin, "viewer")
    async with ws(viewer, f"/ws/workflows/{created['id']}/collaboration") as socket:
        await socket.send(change("node_deleted", {"id": "a"}, 1))
        rejected = await socket.event("rejected")
        assert rejected["error"]["code"] == "FORBIDDEN"
    assert (await api.get(f"/api/workflows/{created['id']}"))["version"] == 1


async def test_another_organization_cannot_join(api, other_admin, hub_client):
    created = await api.create_workflow(workflow("Private"))
    async with hub_client.websocket(f"/ws/workflows/{created['id']}/collaboration", headers=other_admin.headers) as socket:
        message = await asyncio.wait_for(socket.receive_json(), 10)
        assert message["type"] == "error" and message["error"]["code"] == "NOT_FOUND"
