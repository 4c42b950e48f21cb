"""The core's pieces for a product's own auth scheme (a plugin imitating Mautic, ...):
`principal_from_password` (HTTP Basic: a user's email and password, checked like a login),
`principal_for_api_key` (a product token standing for a Hub API key) and
`require(..., authenticate_with=...)` (the Mautic plugin in wip/mautic drives them through HTTP)."""

from __future__ import annotations

import uuid

import pytest

from core import HubError, principal_for_api_key, principal_from_password
from core.testing import PASSWORD


async def test_password_principal_is_the_users_and_a_wrong_password_is_refused(hub_app, admin):
    async with hub_app.app_context():
        principal = await principal_from_password(admin.email.upper(), PASSWORD, "127.0.0.9")
        assert principal.kind == "user" and str(principal.user_id) == admin.user_id
        assert str(principal.org_id) == admin.org_id and principal.can("files.write")
        again = await principal_from_password(admin.email, PASSWORD, "127.0.0.9")  # from the cache
        assert again == principal
        with pytest.raises(HubError) as refused:
            await principal_from_password(admin.email, PASSWORD + "!", "127.0.0.9")
        assert refused.value.status == 401


async def test_api_key_principal_follows_the_key(hub_app, hub_client, admin, key_for):
    key = await key_for(admin, ["read"])
    async with hub_app.app_context():
        principal = await principal_for_api_key(key["id"])
        assert principal.kind == "api_key" and str(principal.api_key_id) == key["id"]
        assert principal.can("files.read") and not principal.can("files.write")
        assert await principal_for_api_key(uuid.uuid4()) is None
        assert await principal_for_api_key("not-a-uuid") is None
    response = await hub_client.delete(f"/api/v1/keys/{key['id']}", headers=admin.headers)
    assert response.status_code in (200, 204)
    async with hub_app.app_context():
        assert await principal_for_api_key(key["id"]) is None
