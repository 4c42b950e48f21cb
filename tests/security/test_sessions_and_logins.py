"""Logins and sessions as an attacker tries them (hardening issue, items 5 and 6).

* Brute force: one address guessing one account is slowed down exponentially; many addresses
  together hit a per-email ceiling.
* Lock-out: nobody can keep a known user out by failing logins from other addresses: the
  per-address counter only slows its own address, and the per-email ceiling spares addresses
  the user logged in from before.
* Sessions: logout ends the session (its refresh token and its access tokens); reusing a rotated
  refresh token ends the whole family, access tokens included.
"""

from __future__ import annotations

import pytest

from core.testing import PASSWORD, assert_error, register_and_login, unique_email


def at(address: str) -> dict:
    """Request options that make the test client's request come from `address`."""
    return {"scope_base": {"client": (address, 40000)}}


async def attempt(client, email: str, password: str, address: str):
    response = await client.post("/api/auth/login", json={"email": email, "password": password}, **at(address))
    return response, await response.get_json()


async def fail(client, email: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        response, body = await attempt(client, email, "wrong password", address)
        assert_error(response.status_code, body, 401, "INVALID_CREDENTIALS")


async def test_brute_force_from_one_address_is_slowed_exponentially(client, admin):
    await fail(client, admin.email, "203.0.113.7", times=5)
    for password in ("wrong password", PASSWORD):  # locked: the right password does not help
        response, body = await attempt(client, admin.email, password, "203.0.113.7")
        assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
        assert response.headers["Retry-After"] == "1"


async def test_a_lockout_attempt_from_other_addresses_does_not_stop_the_user(client):
    victim = await register_and_login(client)  # logs in from the test client's address
    known = "198.51.100.20"
    response, _ = await attempt(client, victim.email, PASSWORD, known)
    assert response.status_code == 200  # the user's usual address, now known
    # the attacker fails from an address of their own, again and again
    await fail(client, victim.email, "203.0.113.66", times=5)
    response, body = await attempt(client, victim.email, "wrong password", "203.0.113.66")
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    # ... which slows the attacker only: the user logs in, from their address or a new one
    assert (await attempt(client, victim.email, PASSWORD, known))[0].status_code == 200
    assert (await attempt(client, victim.email, PASSWORD, "192.0.2.44"))[0].status_code == 200


async def test_many_addresses_hit_the_per_email_ceiling_but_known_addresses_still_get_in(hub, client):
    settings = hub.settings.auth
    victim = await register_and_login(client, unique_email("victim"))
    known = "198.51.100.21"
    assert (await attempt(client, victim.email, PASSWORD, known))[0].status_code == 200
    # a botnet: each address stays under its own threshold, together they pass the ceiling
    per_address = settings.login_max_failures - 1
    for n in range(settings.login_max_failures_per_email):
        await fail(client, victim.email, f"203.0.113.{n // per_address}")
    for address in ("192.0.2.99", "203.0.113.0"):  # a new address, and the attackers', are locked out
        response, body = await attempt(client, victim.email, PASSWORD, address)
        assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
        assert int(response.headers["Retry-After"]) > 60  # for the rest of the window
    response, body = await attempt(client, victim.email, PASSWORD, known)
    assert response.status_code == 200, body  # the user's own device still works


async def test_another_account_is_not_affected_by_an_attack_on_one(client, admin):
    await fail(client, admin.email, "203.0.113.8", times=5)
    response, body = await attempt(client, admin.email, PASSWORD, "203.0.113.8")
    assert_error(response.status_code, body, 429, "RATE_LIMIT_EXCEEDED")
    other = await register_and_login(client)
    assert (await attempt(client, other.email, PASSWORD, "203.0.113.8"))[0].status_code == 200


# -- sessions -------------------------------------------------------------------------------------------


async def refresh(client, token: str):
    response = await client.post("/api/auth/refresh", json={"refresh_token": token})
    return response, await response.get_json()


async def me(client, access_token: str):
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})


async def test_logout_without_a_body_ends_the_refresh_token_too(client, admin):
    response = await client.post("/api/auth/logout", headers=admin.headers)
    assert response.status_code == 204
    response, body = await refresh(client, admin.refresh_token)
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")
    answer = await me(client, admin.access_token)
    assert_error(answer.status_code, await answer.get_json(), 401, "TOKEN_REVOKED")


async def test_logout_ends_every_access_token_of_the_session(client, admin):
    response, rotated = await refresh(client, admin.refresh_token)
    assert response.status_code == 200
    assert (await me(client, admin.access_token)).status_code == 200  # the first access token still works
    out = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert out.status_code == 204
    earlier = await me(client, admin.access_token)  # of the same session: ended with it
    assert_error(earlier.status_code, await earlier.get_json(), 401, "TOKEN_REVOKED")
    response, body = await refresh(client, rotated["refresh_token"])
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")


async def test_logout_leaves_the_users_other_sessions_alone(client, admin):
    response = await client.post("/api/auth/login", json={"email": admin.email, "password": PASSWORD})
    other_session = await response.get_json()
    assert (await client.post("/api/auth/logout", headers=admin.headers)).status_code == 204
    assert (await me(client, other_session["access_token"])).status_code == 200
    response, _ = await refresh(client, other_session["refresh_token"])
    assert response.status_code == 200


async def test_a_reused_refresh_token_ends_the_family_and_its_access_tokens(client, admin):
    response, first = await refresh(client, admin.refresh_token)
    assert response.status_code == 200
    response, stolen = await refresh(client, admin.refresh_token)  # replayed by a thief
    assert_error(response.status_code, stolen, 401, "AUTHENTICATION_FAILED")
    for token in (admin.access_token, first["access_token"]):
        answer = await me(client, token)
        assert_error(answer.status_code, await answer.get_json(), 401, "TOKEN_REVOKED")
    response, body = await refresh(client, first["refresh_token"])
    assert_error(response.status_code, body, 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("path", ["/api/auth/logout"])
async def test_a_revoked_session_cannot_log_out_again(client, admin, path):
    assert (await client.post(path, headers=admin.headers)).status_code == 204
    again = await client.post(path, headers=admin.headers)
    assert_error(again.status_code, await again.get_json(), 401, "TOKEN_REVOKED")
