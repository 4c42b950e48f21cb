"""Contacts through Mautic's API in-process: Mautic's auth and error shapes, creation with
de-duplication on email, JSON and form bodies, lists keyed by id with search and paging,
edits, tags, points, do-not-contact, and another organization's ids answering 404."""

from __future__ import annotations

from urllib.parse import urlencode

from core.testing import PASSWORD, Api
from tests.plugins.mautic.conftest import basic

CONTACTS = "/mautic/api/contacts"


async def new_contact(mautic: Api, status: int = 201, **fields) -> dict:
    return (await mautic.call("POST", f"{CONTACTS}/new", fields, status=status))["contact"]


def assert_mautic_error(response, body, status: int, message: str | None = None) -> dict:
    assert response.status_code == status, body
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert set(error) == {"code", "message", "details", "type"} and error["code"] == status, body
    if message is not None:
        assert error["message"] == message, body
    assert response.headers["Mautic-Version"], response.headers
    return error


async def test_basic_auth_with_password_or_api_key_and_mautic_errors(hub_client, admin, key_for, mautic):
    response, body = await mautic.request("GET", CONTACTS)
    assert response.status_code == 200 and body == {"total": 0, "contacts": []} or body["total"] == 0
    assert response.headers["Mautic-Version"] == "5.1.1"
    key = (await key_for(admin, ["read", "write"]))["key"]
    with_key = Api(hub_client, basic("anything", key), admin)
    assert (await with_key.get(CONTACTS))["total"] == 0
    # a wrong password, a missing header, a bad base64: Mautic's 401 body
    wrong = Api(hub_client, basic(admin.email, PASSWORD + "x"), admin)
    assert_mautic_error(*await wrong.request("GET", CONTACTS), 401, "Authorization denied, invalid credentials.")
    error = assert_mautic_error(*await Api(hub_client, {}, admin).request("GET", CONTACTS), 401,
                                "API authorization denied.")
    assert error["type"] == "access_denied"
    garbage = Api(hub_client, {"Authorization": "Basic %%%"}, admin)
    assert_mautic_error(*await garbage.request("GET", CONTACTS), 401)
    # the Hub's own bearer token works too
    assert (await Api.of(hub_client, admin).get(CONTACTS))["total"] == 0
    # a read-only key cannot write: 403 in Mautic's shape
    reader = Api(hub_client, basic("x", (await key_for(admin, ["read"]))["key"]), admin)
    assert_mautic_error(*await reader.request("POST", f"{CONTACTS}/new", {"email": "a@example.com"}), 403,
                        "You do not have access to the requested area/action.")


async def test_create_deduplicates_on_email_and_answers_mautic_fields(mautic):
    contact = await new_contact(mautic, firstname="Ada", lastname="Lovelace", email="Ada@Example.com",
                                city="London", tags=["vip", "beta"])
    assert isinstance(contact["id"], int)
    assert contact["fields"]["all"]["email"] == "ada@example.com"
    assert contact["fields"]["core"]["firstname"]["value"] == "Ada"
    assert contact["fields"]["core"]["city"]["value"] == "London"
    assert contact["fields"]["social"]["twitter"]["value"] is None
    assert [tag["tag"] for tag in contact["tags"]] == ["vip", "beta"]
    again = await new_contact(mautic, status=200, email="ada@example.com", position="Countess", tags="-beta,math")
    assert again["id"] == contact["id"]
    assert again["fields"]["all"]["firstname"] == "Ada" and again["fields"]["all"]["position"] == "Countess"
    assert [tag["tag"] for tag in again["tags"]] == ["vip", "math"]
    listed = await mautic.get(CONTACTS)
    assert listed["total"] == 1 and list(listed["contacts"]) == [str(contact["id"])]
    response, body = await mautic.request("POST", f"{CONTACTS}/new", {"email": "not-an-email"})
    assert_mautic_error(response, body, 400, "email: A valid email is required.")


async def test_form_bodies_as_the_mautic_client_posts_them(mautic):
    form = urlencode([("firstname", "Grace"), ("email", "grace@example.com"), ("tags[]", "navy"), ("tags[]", "cobol"),
                      ("doNotContact[0][reason]", "3"), ("doNotContact[0][channel]", "sms")])
    response = await mautic.client.post(f"{CONTACTS}/new", data=form, headers={
        **mautic.headers, "Content-Type": "application/x-www-form-urlencoded"})
    body = await response.get_json()
    assert response.status_code == 201, body
    contact = body["contact"]
    assert contact["fields"]["all"]["firstname"] == "Grace"
    assert [tag["tag"] for tag in contact["tags"]] == ["navy", "cobol"]
    assert [(d["channel"], d["reason"]) for d in contact["doNotContact"]] == [("sms", 3)]
    # PATCH with a form: only the given fields change
    response = await mautic.client.patch(f"{CONTACTS}/{contact['id']}/edit", data="lastname=Hopper", headers={
        **mautic.headers, "Content-Type": "application/x-www-form-urlencoded"})
    edited = (await response.get_json())["contact"]
    assert edited["fields"]["all"]["firstname"] == "Grace" and edited["fields"]["all"]["lastname"] == "Hopper"


async def test_lists_search_page_and_order_keyed_by_id(mautic):
    for index in range(7):
        await new_contact(mautic, firstname=f"Person{index}", lastname="Zed" if index % 2 else "Abe",
                          email=f"p{index}@example.com", company="Acme" if index < 3 else "Globex")
    page = await mautic.get(f"{CONTACTS}?start=2&limit=3&orderBy=id&orderByDir=DESC")
    assert page["total"] == 7 and len(page["contacts"]) == 3
    ids = [contact["id"] for contact in page["contacts"].values()]
    assert ids == sorted(ids, reverse=True) and all(str(i) == key for i, key in zip(ids, page["contacts"]))
    everything = await mautic.get(f"{CONTACTS}?limit=100&orderBy=id")
    all_ids = [c["id"] for c in everything["contacts"].values()]
    assert ids == list(reversed(all_ids))[2:5]
    assert (await mautic.get(f"{CONTACTS}?search=globex"))["total"] == 4
    assert (await mautic.get(f"{CONTACTS}?search=email:p1@example.com"))["total"] == 1
    assert (await mautic.get(f"{CONTACTS}?search=email:%25@example.com"))["total"] == 7
    assert (await mautic.get(f"{CONTACTS}?search=!company:acme"))["total"] == 4
    by_name = await mautic.get(f"{CONTACTS}?orderBy=lastname&orderByDir=ASC&limit=7")
    assert [c["fields"]["all"]["lastname"] for c in by_name["contacts"].values()] == ["Abe"] * 4 + ["Zed"] * 3
    response, body = await mautic.request("GET", f"{CONTACTS}?orderBy=password")
    assert_mautic_error(response, body, 400)


async def test_get_put_patch_delete_and_404s(mautic, other_mautic):
    contact = await new_contact(mautic, firstname="Alan", email="alan@example.com", city="Wilmslow")
    path = f"{CONTACTS}/{contact['id']}"
    assert (await mautic.get(path))["contact"]["fields"]["all"]["city"] == "Wilmslow"
    replaced = (await mautic.call("PUT", f"{path}/edit", {"email": "alan@example.com", "lastname": "Turing"}))["contact"]
    assert replaced["fields"]["all"]["firstname"] is None and replaced["fields"]["all"]["city"] is None
    created = await mautic.call("PUT", f"{CONTACTS}/999999/edit", {"email": "new@example.com"}, status=201)
    assert created["contact"]["id"] != contact["id"]
    response, body = await mautic.request("PATCH", f"{CONTACTS}/999999/edit", {"city": "x"})
    assert_mautic_error(response, body, 404, "Item was not found.")
    # another organization: the same 404, and nothing changes
    for method, suffix, payload in (("GET", "", None), ("PATCH", "/edit", {"city": "Paris"}),
                                    ("PUT", "/edit", {"city": "Paris"}), ("DELETE", "/delete", None),
                                    ("POST", "/points/plus/5", None), ("POST", "/dnc/email/add", {})):
        response, body = await other_mautic.request(method, path + suffix, payload)
        if method == "PUT":  # PUT creates in the caller's own organization, never touches ours
            assert response.status_code == 201 and body["contact"]["id"] != contact["id"]
            continue
        assert_mautic_error(response, body, 404, "Item was not found.")
    assert (await mautic.get(path))["contact"]["fields"]["all"]["lastname"] == "Turing"
    assert (await mautic.get(path))["contact"]["points"] == 0
    deleted = await mautic.call("DELETE", f"{path}/delete")
    assert deleted["contact"]["id"] == contact["id"]
    assert_mautic_error(*await mautic.request("GET", path), 404)
    assert_mautic_error(*await mautic.request("GET", f"{CONTACTS}/abc"), 404)


async def test_batch_points_tags_and_do_not_contact(mautic):
    batch = await mautic.call("POST", f"{CONTACTS}/batch/new", [
        {"email": "b1@example.com", "firstname": "B1"}, {"email": "b2@example.com"}, {"email": "bad"},
        {"email": "b1@example.com", "lastname": "One"}], status=201)
    assert batch["statusCodes"] == [201, 201, 400, 200]
    assert "2" in batch["errors"] and len(batch["contacts"]) == 3
    contact_id = batch["contacts"][0]["id"]
    assert batch["contacts"][2]["id"] == contact_id
    too_many = [{"email": f"x{i}@example.com"} for i in range(201)]
    assert_mautic_error(*await mautic.request("POST", f"{CONTACTS}/batch/new", too_many), 400)
    assert await mautic.call("POST", f"{CONTACTS}/{contact_id}/points/plus/10") == {"success": 1}
    await mautic.call("POST", f"{CONTACTS}/{contact_id}/points/minus/3")
    assert (await mautic.get(f"{CONTACTS}/{contact_id}"))["contact"]["points"] == 7
    assert_mautic_error(*await mautic.request("POST", f"{CONTACTS}/{contact_id}/points/pow/2"), 400)
    added = await mautic.call("POST", f"{CONTACTS}/{contact_id}/dnc/email/add", {"reason": 1, "comments": "asked"})
    assert [(d["channel"], d["reason"], d["comments"]) for d in added["contact"]["doNotContact"]] == [
        ("email", 1, "asked")]
    assert_mautic_error(*await mautic.request("POST", f"{CONTACTS}/{contact_id}/dnc/email/add", {"reason": 0}), 400,
                        "Invalid reason code given")
    removed = await mautic.call("POST", f"{CONTACTS}/{contact_id}/dnc/email/remove")
    assert removed["recordFound"] is True and removed["contact"]["doNotContact"] == []
    again = await mautic.call("POST", f"{CONTACTS}/{contact_id}/dnc/email/remove")
    assert again["recordFound"] is False
