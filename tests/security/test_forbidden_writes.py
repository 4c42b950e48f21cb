"""No write without its permission (hardening issue: "0 forbidden writes by viewers, read-scoped
keys or members"): on every operation that writes (POST, PUT, PATCH, DELETE) a viewer, a member
(for admin-level permissions) and an API key scoped `read` get the 403 envelope wherever the
permission the route requires (`require(...)`, its level in the permission registry) is beyond
them, with a valid body on the organization's real resources; and nothing changes.

Generated from /openapi.json and the routes' `require`: a new plugin's routes are swept as soon
as they are served.
"""

from __future__ import annotations

import pytest

from core.testing import Api, add_member, create_key
from tests.security.sweep import WRITE_METHODS, keyed, state_changes, sweeping

# What each caller may do, as the roles are promised (not read from the code under test): the
# permission levels it holds.
LEVELS = {"viewer": {"read"}, "member": {"read", "write"}, "read key": {"read"}}


@pytest.fixture(scope="module")
async def sweep(hub_app):
    """An organization with one resource of every kind, and its viewer, member and read key."""
    async with sweeping(hub_app, "Forbidden writes") as (kit, owner):
        admin = owner.api.account
        key = await create_key(kit.client, admin, ["read"])
        viewer = await add_member(kit.client, admin, "viewer")
        member = await add_member(kit.client, admin, "member")
        # on the routes that take only an API key, in a header of their own (n8n's), each caller
        # uses its key: the member one of its own (a viewer may make none: it gets 401 there)
        member_key = (await create_key(kit.client, member, ["read", "write"]))["key"]
        callers = {
            "viewer": keyed(kit.document, Api.of(kit.client, viewer), None),
            "member": keyed(kit.document, Api.of(kit.client, member), member_key),
            "read key": keyed(kit.document, Api.with_key(kit.client, key["key"], admin), key["key"]),
        }
        yield kit, owner, callers


async def test_no_caller_writes_beyond_its_permissions(sweep):
    kit, owner, callers = sweep
    permissions = kit.hub.permissions.permissions
    writes = [operation for operation in kit.document.operations
              if operation.method in WRITE_METHODS and operation.permission is not None]
    before = await owner.state()
    problems, checked = [], {name: 0 for name in callers}
    # DELETEs last: a deletion that got through would hide what the other methods do
    for operation in sorted(writes, key=lambda operation: operation.method == "DELETE"):
        level = permissions[operation.permission].level
        path = await owner.path(operation, shared=True)
        body = await owner.body(operation)
        for name, api in callers.items():
            if level in LEVELS[name]:
                continue
            checked[name] += 1
            response, answer = await api.request(operation.method, path, body)
            refused = 401 if name == "viewer" and api.key_header(path) else 403  # no key, no entry
            problem = kit.document.refusal_problem(operation, refused, "FORBIDDEN", response, answer)
            if problem:
                problems.append(f"{name} {operation.name} ({operation.permission}, {level}): {problem}")
    problems += [f"changed: {change}" for change in state_changes(before, await owner.state())]
    assert not problems, "\n".join(problems)
    # only logout and recommendations (asking is reading) write at the read level
    beyond_read = [operation for operation in writes if permissions[operation.permission].level != "read"]
    assert checked["viewer"] == checked["read key"] == len(beyond_read) >= 44, (checked, len(writes))
    assert checked["member"] >= 20, checked
