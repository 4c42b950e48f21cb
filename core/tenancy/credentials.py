"""Credentials of integrations, encrypted at rest: one store for every plugin (DESIGN §8).

A plugin keeps an organization's SMTP password, Twilio token or DMS key here instead of in a
table of its own:

    await save_credentials(org_id, "messaging", "twilio", {"account_sid": "AC..", "auth_token": ".."})
    creds = await load_credentials(org_id, "messaging", "twilio")   # a Credentials mapping, or None
    creds["auth_token"]
    mask_credentials(creds)   # {"account_sid": "••••a1b2", "auth_token": "••••9f3c"}: what an API may show

How they are kept: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by HKDF from the Hub's
secret (`secret_key`), so there is no second secret to lose. The plaintext names its
organization, owner and name, and loading checks them: a row copied to another organization or
owner does not decrypt into it. `Credentials` masks its values in `repr`/`str`, so a stray log
line or traceback shows no secret.

Rotation: set the new `secret_key` and list the old one in `previous_secret_keys`; rows encrypted
with an old key still load, and `hub rotate-credentials` re-encrypts every row with the new key,
after which the old key can be dropped from the list.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.kernel.hub import Hub, current_hub
from core.kernel.times import utcnow
from core.tenancy.models import StoredCredential

_KDF_INFO = b"the-hub: credentials of integrations, v1"
MASK = "\u2022\u2022\u2022\u2022"


class CredentialsUnreadable(Exception):
    """Stored credentials that no configured key decrypts (the secret changed without
    `previous_secret_keys`), or that belong to another organization or owner."""


class Credentials(Mapping[str, str]):
    """Decrypted credentials: a read-only mapping whose repr never shows a value."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({mask_credentials(self)!r})"

    __str__ = __repr__


def mask_credentials(values: Mapping[str, object]) -> dict[str, str]:
    """What an API may show of credentials: each value as "••••" and at most its last 4
    characters (none of a value shorter than 12, whose end would give too much away)."""
    masked = {}
    for key, value in values.items():
        text = "" if value is None else str(value)
        masked[key] = MASK + text[-4:] if len(text) >= 12 else MASK
    return masked


@lru_cache(maxsize=8)
def _fernet(secrets: tuple[str, ...]) -> MultiFernet:
    def key(secret: str) -> Fernet:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(secret.encode())
        return Fernet(base64.urlsafe_b64encode(derived))

    return MultiFernet([key(secret) for secret in secrets])


def _keys(hub: Hub) -> MultiFernet:
    previous = tuple(secret.get_secret_value() for secret in hub.settings.previous_secret_keys)
    return _fernet((hub.signing_key, *previous))


def _plaintext(org_id: str, owner: str, name: str, values: Mapping[str, str]) -> bytes:
    return json.dumps({"org": str(org_id), "owner": owner, "name": name, "values": dict(values)}).encode()


async def save_credentials(org_id: str, owner: str, name: str, values: Mapping[str, str]) -> None:
    """Store (or replace) `owner`'s credentials called `name` for an organization. `owner` is the
    plugin's name, so two plugins never read each other's; values must be strings."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise TypeError("credentials are a mapping of strings to strings")
    token = _keys(current_hub()).encrypt(_plaintext(org_id, owner, name, values)).decode()
    updated = await StoredCredential.filter(org_id=org_id, owner=owner, name=name).update(
        ciphertext=token, updated_at=utcnow())
    if not updated:
        await StoredCredential.create(org_id=org_id, owner=owner, name=name, ciphertext=token)


def _decrypt(hub: Hub, row: StoredCredential) -> dict:
    try:
        data = json.loads(_keys(hub).decrypt(row.ciphertext.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            f"credentials {row.owner}/{row.name} were encrypted with a key that is not configured: "
            "list the old secret_key in previous_secret_keys") from None
    if (data.get("org"), data.get("owner"), data.get("name")) != (str(row.org_id), row.owner, row.name):
        raise CredentialsUnreadable(f"credentials {row.owner}/{row.name} belong to another organization or owner")
    return data["values"]


async def load_credentials(org_id: str, owner: str, name: str) -> Credentials | None:
    """`owner`'s credentials called `name` for an organization, decrypted; None if there are none."""
    row = await StoredCredential.get_or_none(org_id=org_id, owner=owner, name=name)
    return None if row is None else Credentials(_decrypt(current_hub(), row))


async def delete_credentials(org_id: str, owner: str, name: str) -> bool:
    """Forget credentials; True if there were some."""
    return bool(await StoredCredential.filter(org_id=org_id, owner=owner, name=name).delete())


async def rotate_credentials(hub: Hub) -> int:
    """Re-encrypt every stored credential with the current secret (`hub rotate-credentials`);
    the number of rows rewritten. A row no configured key opens stops the rotation."""
    keys = _keys(hub)
    rows = await StoredCredential.all()
    for row in rows:  # one unreadable or misplaced row: refuse before rewriting any
        _decrypt(hub, row)
    rotated = 0
    for row in rows:
        token = keys.rotate(row.ciphertext.encode()).decode()
        await StoredCredential.filter(id=row.id, ciphertext=row.ciphertext).update(ciphertext=token, updated_at=utcnow())
        rotated += 1
    return rotated
