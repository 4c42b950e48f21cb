from tests.helpers import assert_error, create_key


async def test_register_login_and_tenant(client, admin):
    response = await client.get("/api/v1/tenant", headers=admin.headers)
    body = await response.get_json()
    assert response.status_code == 200
    assert body["tenant_id"] == admin.org_id
    assert body["name"] == "Acme"


async def test_unknown_route_is_enveloped(client):
    response = await client.get("/no/such/route")
    assert_error(response.status_code, await response.get_json(), 404, "NOT_FOUND")
    assert response.headers["X-Request-ID"]


async def test_api_key_reads_tenant(client, admin):
    key = await create_key(client, admin)
    response = await client.get("/api/v1/tenant", headers={"X-API-Key": key["key"]})
    assert response.status_code == 200
