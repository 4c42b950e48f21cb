"""Tenant isolation over the whole OpenAPI document (hardening issue: "0 cross-tenant leaks or
changes"): on every operation whose path names a resource, another organization's admin gets
the 404 envelope, as for an unknown id, and the owner's data is unchanged afterwards; no list
answers with another organization's values, whatever its query asks for.

Generated from /openapi.json: a new plugin's routes are swept as soon as they are served. An
operation whose resource cannot be made (tests/security/sweep.py: FACTORIES) fails the coverage
test, unless NOT_COVERED names it with the reason.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.security.sweep import LISTED, Kit, Operation, Ungenerated, find_key, snake, state_changes, sweeping

# Operations with a path parameter that is not an organization's resource.
NOT_COVERED = {
    "PUT /api/v1/plugins/{name}": "a plugin's name is the server's, not an organization's: the switch acts on "
                                  "the caller's own organization (tests/core/test_plugins.py)",
    "GET /v1/models/{model_id}": "the models are the server's, the same for every organization",
    **{name: "an integration's id names the server's catalogue; each organization's connection to it is its "
             "own (tests/core/test_integrations.py)"
       for name in ("GET /api/integrations/{integration_id}", "POST /api/integrations/{integration_id}/connect",
                    "POST /api/integrations/{integration_id}/test",
                    "POST /api/integrations/{integration_id}/disconnect")},
    "GET /api/v1/invoices/{invoice_id}": "invoices come from Stripe only (none without it): another organization's "
                                         "is 404 against localstripe (tests/plugins/billing/test_stripe.py)",
    **{f"{method} /n8n/{kind}/{{path}}": "a webhook URL names the workflow itself (public by design, found by its "
       "path; tests/plugins/n8n/test_webhooks.py)"
       for method in ("DELETE", "GET", "PATCH", "POST", "PUT") for kind in ("webhook", "webhook-test")},
    **{name: "a theme is addressed by its organization's id and is public by design (a login page shows it); "
             "writes are the admin's of that organization, another's gets 404 (tests/plugins/themes)"
       for name in ("GET /api/v1/themes/{org_id}", "PUT /api/v1/themes/{org_id}", "GET /api/v1/themes/{org_id}/css",
                    "GET /api/v1/themes/{org_id}/logo", "POST /api/v1/themes/{org_id}/logo",
                    "DELETE /api/v1/themes/{org_id}/logo")},
    **{f"{method} {prefix}{path}": "a Lightdash project's uuid is derived from the caller's organization (no POST "
       "makes one); another organization's project or query is 404 (tests/plugins/analytics/test_lightdash.py, and "
       "through the official SDK in test_sdk.py)"
       for prefix in ("/analytics", "") for method, path in (
           ("GET", "/api/v1/projects/{project_uuid}"), ("GET", "/api/v1/projects/{project_uuid}/explores"),
           ("GET", "/api/v1/projects/{project_uuid}/explores/{explore_name}"),
           ("POST", "/api/v2/projects/{project_uuid}/query/metric-query"),
           ("GET", "/api/v2/projects/{project_uuid}/query/{query_uuid}"),
           ("POST", "/api/v2/projects/{project_uuid}/query/{query_uuid}/cancel"))},
}


@pytest.fixture(scope="module")
async def sweep(hub_app):
    """The document, an owner with one resource of every kind, and an intruder (the admin of
    another organization), for the whole module (registering costs a password hash)."""
    async with sweeping(hub_app, "Owner", "Intruder") as (kit, owner, intruder):
        yield kit, owner, intruder


def id_operations(kit: Kit) -> list[Operation]:
    return [operation for operation in kit.document.operations if operation.parameters]


def list_operations(kit: Kit) -> list[Operation]:
    return [operation for operation in kit.document.operations
            if operation.method == "GET" and not operation.parameters]


async def test_every_id_operation_is_covered(sweep):
    kit, owner, _ = sweep
    ungenerated = {}
    for operation in id_operations(kit):
        try:
            await owner.path(operation)
        except Ungenerated as reason:
            ungenerated[operation.name] = str(reason)
    assert set(ungenerated) == set(NOT_COVERED), ungenerated
    assert all(name in kit.document.by_name for name in NOT_COVERED)


async def test_another_organization_gets_404_on_every_id_operation(sweep):
    kit, owner, intruder = sweep
    operations = [operation for operation in id_operations(kit) if operation.name not in NOT_COVERED]
    before = await owner.state()
    problems = []
    # DELETEs last: a deletion that got through would hide what the other methods do
    for operation in sorted(operations, key=lambda operation: operation.method == "DELETE"):
        path = await owner.path(operation)
        body = await intruder.body(operation, full=True)
        response, answer = await intruder.api.request(operation.method, path, body)
        problem = kit.document.refusal_problem(operation, 404, "NOT_FOUND", response, answer)
        if problem:
            problems.append(f"{operation.name} ({path}): {problem}")
    problems += [f"changed: {change}" for change in state_changes(before, await owner.state())]
    assert not problems, "\n".join(problems)
    assert len(operations) >= 35, [operation.name for operation in operations]


async def list_queries(kit: Kit, owner, operation: Operation) -> list[str]:
    """The list's path bare, then with each query parameter (but the page's) set to the owner's
    values: each of an enumeration's, its resource's id for a filter by id, else the value the
    owner's own list shows for that field (its lead's `source`, its item's `category`, ...), or
    its mark (a search term)."""
    queries = [operation.path]
    response, bare = await owner.api.request("GET", operation.path)
    for parameter in operation.query:
        name, schema = parameter["name"], kit.document.variants(parameter["schema"])[0]
        if name in ("limit", "offset", "skip", "page"):
            continue
        values = schema.get("enum") or schema.get("items", {}).get("enum")
        if not values and name in LISTED:  # the server's own names (a model, a metric)
            values = [await owner.listed(LISTED[name], name)]
        if not values:
            shown = find_key(bare, name) if response.is_json else None
            shown = shown[0] if isinstance(shown, list) and shown else shown
            if snake(name) in kit.families:
                values = [await owner.id_for(snake(name))]
            elif "format" in schema:
                values = [owner.values.value(schema)]
            else:
                values = [shown if isinstance(shown, str) else owner.mark]
        queries += [f"{operation.path}?{urlencode({name: value})}" for value in values]
    return queries


async def test_no_list_answers_another_organizations_values(sweep):
    kit, owner, intruder = sweep
    secrets = owner.secrets()
    problems, requests, seen_by_owner = [], 0, set()
    for operation in list_operations(kit):
        for query in await list_queries(kit, owner, operation):
            requests += 1
            response, _ = await intruder.api.request("GET", query)
            text = await response.get_data(as_text=True)
            leaked = sorted(secret for secret in secrets if secret in text)
            if response.status_code >= 500 or leaked:
                problems.append(f"{query}: {response.status_code}, the owner's {leaked}")
            mine, _ = await owner.api.request("GET", query)
            text = await mine.get_data(as_text=True)
            if any(secret in text for secret in secrets):
                seen_by_owner.add(operation.name)
    assert not problems, "\n".join(problems)
    # the owner's own lists do show its values: the search above looks for the right things
    assert len(seen_by_owner) >= 12, sorted(seen_by_owner)
    assert requests >= 60, requests

