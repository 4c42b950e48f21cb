"""The credentials store: integrations' secrets encrypted at rest, per organization and owner,
masked wherever they could be shown, rotated to a new secret without losing a row."""

from __future__ import annotations

import logging
import uuid

import pytest
from pydantic import SecretStr

from core import (
    CredentialsUnreadable,
    delete_credentials,
    load_credentials,
    mask_credentials,
    save_credentials,
)
from core.tenancy.credentials import rotate_credentials
from core.tenancy.models import StoredCredential

SMTP = {"host": "smtp.example.com", "username": "mailer", "password": "correct horse battery staple"}


@pytest.fixture
def org_ids():
    return str(uuid.uuid4()), str(uuid.uuid4())


async def test_saved_credentials_load_back_and_are_not_stored_in_plaintext(hub_app, org_ids):
    org, _ = org_ids
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        loaded = await load_credentials(org, "messaging", "smtp")
        row = await StoredCredential.get(org_id=org, owner="messaging", name="smtp")
    assert dict(loaded) == SMTP
    assert "correct horse" not in row.ciphertext and "mailer" not in row.ciphertext
    assert "smtp.example.com" not in row.ciphertext


async def test_saving_again_replaces_and_deleting_forgets(hub_app, org_ids):
    org, _ = org_ids
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        await save_credentials(org, "messaging", "smtp", {**SMTP, "password": "new one"})
        assert (await load_credentials(org, "messaging", "smtp"))["password"] == "new one"
        assert await StoredCredential.filter(org_id=org).count() == 1
        assert await delete_credentials(org, "messaging", "smtp") is True
        assert await delete_credentials(org, "messaging", "smtp") is False
        assert await load_credentials(org, "messaging", "smtp") is None


async def test_another_organization_or_owner_sees_nothing(hub_app, org_ids):
    org, other = org_ids
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        assert await load_credentials(other, "messaging", "smtp") is None
        assert await load_credentials(org, "dms", "smtp") is None


async def test_a_row_moved_to_another_organization_does_not_decrypt_there(hub_app, org_ids):
    # Someone with write access to the table copies a row: the plaintext names its owner.
    org, other = org_ids
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        await StoredCredential.filter(org_id=org, owner="messaging").update(org_id=other)
        with pytest.raises(CredentialsUnreadable, match="another organization"):
            await load_credentials(other, "messaging", "smtp")
        await delete_credentials(other, "messaging", "smtp")  # rotation refuses while such a row exists


async def test_values_must_be_strings(hub_app, org_ids):
    async with hub_app.app_context():
        with pytest.raises(TypeError):
            await save_credentials(org_ids[0], "messaging", "smtp", {"port": 587})
        assert await load_credentials(org_ids[0], "messaging", "smtp") is None


async def test_loaded_credentials_never_show_their_values_when_printed_or_logged(hub_app, org_ids, caplog):
    async with hub_app.app_context():
        await save_credentials(org_ids[0], "messaging", "smtp", SMTP)
        loaded = await load_credentials(org_ids[0], "messaging", "smtp")
    with caplog.at_level(logging.INFO):
        logging.getLogger("hub.test").info("connecting with %s / %r", loaded, loaded)
    shown = caplog.text + str(loaded) + repr(loaded) + f"{loaded}"
    assert "correct horse" not in shown and "mailer" not in shown
    assert "password" in shown  # the keys stay readable


def test_masking_shows_at_most_the_last_four_characters_of_long_values():
    masked = mask_credentials({"token": "sk_live_0123456789abcdef", "pin": "1234", "empty": ""})
    assert masked["token"].endswith("cdef") and "0123" not in masked["token"]
    assert masked["pin"] == "\u2022\u2022\u2022\u2022"  # short: nothing of it
    assert masked["empty"] == "\u2022\u2022\u2022\u2022"


async def test_rotation_to_a_new_secret_keeps_every_row_readable(hub_app, hub, org_ids):
    org, other = org_ids
    old_secret = hub.signing_key
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        await save_credentials(other, "dms", "cdk", {"api_key": "cdk-key-0123456789"})
        before = {row.id: row.ciphertext for row in await StoredCredential.filter(org_id__in=org_ids)}
        try:
            hub.signing_key = "a brand new secret " + uuid.uuid4().hex
            with pytest.raises(CredentialsUnreadable, match="previous_secret_keys"):
                await load_credentials(org, "messaging", "smtp")  # the old key is not listed

            hub.settings.previous_secret_keys = [SecretStr(old_secret)]
            assert dict(await load_credentials(org, "messaging", "smtp")) == SMTP  # read with the old key
            assert await rotate_credentials(hub) >= 2
            after = {row.id: row.ciphertext for row in await StoredCredential.filter(org_id__in=org_ids)}
            assert all(after[row_id] != before[row_id] for row_id in before)

            hub.settings.previous_secret_keys = []  # the old key dropped: rotated rows still load
            assert dict(await load_credentials(org, "messaging", "smtp")) == SMTP
            assert (await load_credentials(other, "dms", "cdk"))["api_key"] == "cdk-key-0123456789"
        finally:
            hub.settings.previous_secret_keys = []
            await rotate_credentials_back(hub, old_secret)


async def rotate_credentials_back(hub, old_secret: str) -> None:
    """Leave the session's app as it was: every row under its own secret again."""
    new_secret = hub.signing_key
    hub.signing_key = old_secret
    hub.settings.previous_secret_keys = [SecretStr(new_secret)]
    try:
        await rotate_credentials(hub)
    finally:
        hub.settings.previous_secret_keys = []


async def test_rotation_refuses_before_rewriting_anything_when_a_row_cannot_be_read(hub_app, hub, org_ids):
    org, _ = org_ids
    old_secret = hub.signing_key
    async with hub_app.app_context():
        await save_credentials(org, "messaging", "smtp", SMTP)
        stored = await StoredCredential.get(org_id=org, owner="messaging", name="smtp")
        try:
            hub.signing_key = "yet another secret " + uuid.uuid4().hex  # the old one forgotten
            with pytest.raises(CredentialsUnreadable):
                await rotate_credentials(hub)
        finally:
            hub.signing_key = old_secret
        assert (await StoredCredential.get(id=stored.id)).ciphertext == stored.ciphertext
        assert dict(await load_credentials(org, "messaging", "smtp")) == SMTP
