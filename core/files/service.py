"""Saving, reading and deleting files: the functions plugins use (exported by `core`).

    info = await save_file(org_id, chunks_or_bytes, name="a.csv", purpose="support.attachment",
                           owner_id=str(ticket.id), allowed_types={"image/png", "application/pdf"},
                           max_bytes=5_000_000, created_by=user_id)
    reader = await open_file(org_id, info.id)          # 404 now if it is not the organization's
    async for chunk in reader: ...
    return await file_response(org_id, info.id)       # a download, from a route

A file is streamed to a spool file while it is counted, hashed and sniffed: past `max_bytes`
the upload stops at once with 413 and the spool file is removed. Its type is then told from
its content (core/files/sniff.py), compared with what the client declared, and checked
against `allowed_types`; the store takes the finished file under a generated key; and one
transaction records the row and adds its bytes to the organization's storage, refused with
429 QUOTA_EXCEEDED past the plan's `storage_mb`. Nothing is left behind by a refusal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncIterable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import quote

from pydantic import BaseModel
from quart import Response
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum

from core.files import sniff
from core.files.models import StorageUsage, StoredFile
from core.files.stores import CHUNK_BYTES, FileStore, file_key, store_for
from core.kernel.errors import HubError, not_found, validation_error
from core.kernel.hub import current_hub
from core.kernel.transactions import transaction
from core.ops.metering import meter_of

log = logging.getLogger("hub.files")

STORAGE_METRIC = "storage_mb"
MEGABYTE = 1024 * 1024
UPLOAD_PURPOSE = "upload"
PURPOSE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)*$")
# Shown in a browser tab when a route asks for inline: never markup, whatever the setting
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"})


class FileInfo(BaseModel):
    """A stored file as plugins and the API see it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    content_type: str
    declared_type: str | None
    size: int
    sha256: str
    purpose: str
    owner_id: str | None
    shared: bool
    created_by: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, row: StoredFile) -> "FileInfo":
        return cls(id=row.id, organization_id=row.org_id, name=row.name, content_type=row.content_type,
                   declared_type=row.declared_type, size=row.size, sha256=row.sha256, purpose=row.purpose,
                   owner_id=row.owner_id, shared=row.shared, created_by=row.created_by, created_at=row.created_at)


def store_of(hub: Any = None) -> FileStore:
    """The Hub's file store (made from `[files]` on first use)."""
    hub = hub or current_hub()
    store = hub.extensions.get("files")
    if store is None:
        store = hub.extensions["files"] = store_for(hub.settings)
    return store


def safe_name(name: str | None) -> str:
    """The user's file name, fit to show and to offer as a download name: no directories, no
    control or path characters, no leading dots, at most 255 characters (the extension kept)."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # "../../etc/passwd" -> "passwd", "C:\\x\\y.png" -> "y.png"
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '<>:"|?*')
    name = name.strip().lstrip(".").strip()
    if len(name) > 255:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: 254 - len(extension)] + "." + extension) if dot and len(extension) <= 16 else name[:255]
    return name or "file"


def too_large(max_bytes: int) -> HubError:
    return HubError("PAYLOAD_TOO_LARGE", f"The file is larger than {max_bytes} bytes",
                    {"field": "file", "max_bytes": max_bytes})


# -- storage used -------------------------------------------------------------------------------------


async def storage_used(org_id: Any) -> int:
    """Bytes the organization stores (every purpose)."""
    row = await StorageUsage.filter(org_id=org_id).first()
    return row.used_bytes if row is not None else 0


async def storage_limit(org_id: Any, hub: Any = None) -> int | None:
    """The organization's `storage_mb` (its plan's, through `hub_plan_limits`) in bytes; None:
    unlimited (no limit, or quotas off)."""
    hub = hub or current_hub()
    if not hub.settings.quotas.enabled:
        return None
    limit = await meter_of(hub).limit_for(org_id, STORAGE_METRIC)
    return None if limit is None else limit * MEGABYTE


def storage_exceeded(limit: int, used: int, requested: int) -> HubError:
    return HubError("QUOTA_EXCEEDED", "Storage quota exceeded", {
        "metric": STORAGE_METRIC, "limit": limit // MEGABYTE, "limit_bytes": limit, "used_bytes": used,
        "requested_bytes": requested})


async def _usage_row(org_id: uuid.UUID) -> None:
    if await StorageUsage.filter(org_id=org_id).exists():
        return
    total = (await StoredFile.filter(org_id=org_id).annotate(total=Sum("size")).values("total"))
    try:
        await StorageUsage.create(org_id=org_id, used_bytes=int((total[0]["total"] if total else 0) or 0))
    except IntegrityError:  # another request made it first
        pass


async def _add_storage(org_id: uuid.UUID, size: int, limit: int | None) -> None:
    """Add `size` bytes to the organization's storage, unless that passes `limit` (inside the
    caller's transaction: one conditional update, so two uploads cannot both squeeze in)."""
    query = StorageUsage.filter(org_id=org_id)
    if limit is not None:
        query = query.filter(used_bytes__lte=limit - size)
    if not await query.update(used_bytes=F("used_bytes") + size):
        raise storage_exceeded(limit or 0, await storage_used(org_id), size)


# -- saving -------------------------------------------------------------------------------------------


async def _chunks(content: bytes | AsyncIterable[bytes] | Iterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(content, (bytes, bytearray, memoryview)):
        data = bytes(content)
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start:start + CHUNK_BYTES]
    elif isinstance(content, AsyncIterable):
        async for chunk in content:
            yield bytes(chunk)
    else:
        for chunk in content:
            yield bytes(chunk)


async def save_file(org_id: Any, content: bytes | AsyncIterable[bytes] | Iterable[bytes], *, name: str,
                    purpose: str = UPLOAD_PURPOSE, owner_id: Any = None, shared: bool = True,
                    content_type: str | None = None, allowed_types: Iterable[str] | None = None,
                    max_bytes: int | None = None, created_by: Any = None, hub: Any = None) -> FileInfo:
    """Store a file for the organization and return its info.

    `content`: bytes, or chunks (an async or plain iterable), streamed, never held whole.
    `name`: the user's name for it (sanitised; shown and offered on download, never a path).
    `purpose`: "<plugin>.<what>" owning it (`owner_id`: which of the plugin's resources);
    `shared`: also readable through GET /api/files and workflows (False: only through the
    plugin's own routes). `content_type`: what the client declared (a disagreeing content is
    refused). `allowed_types`: detected types accepted (default `[files] allowed_types`).
    `max_bytes`: default `[files] max_upload_bytes`.

    Raises 413 PAYLOAD_TOO_LARGE (past max_bytes), 415 UNSUPPORTED_MEDIA_TYPE (a type not
    allowed, or not the one declared), 400 VALIDATION_ERROR (empty), 429 QUOTA_EXCEEDED (past
    the plan's storage_mb)."""
    hub = hub or current_hub()
    settings = hub.settings.files
    org_id = uuid.UUID(str(org_id))
    if not isinstance(purpose, str) or len(purpose) > 64 or not PURPOSE.match(purpose):
        raise ValueError(f"purpose {purpose!r} must look like 'plugin.what' (lower case, at most 64 characters)")
    max_bytes = settings.max_upload_bytes if max_bytes is None else max_bytes
    allowed = set(settings.allowed_types if allowed_types is None else allowed_types)
    name = safe_name(name)
    limit = await storage_limit(org_id, hub)
    await _usage_row(org_id)
    if limit is not None and await storage_used(org_id) >= limit:  # refused before a byte is read
        raise storage_exceeded(limit, await storage_used(org_id), 0)

    store = store_of(hub)
    spool = store.spool_dir / f"{uuid.uuid4().hex}.part"
    file_id = uuid.uuid4()
    key = file_key(org_id, file_id)
    stored = False
    try:
        sniffer, digest = sniff.Sniffer(), hashlib.sha256()
        with open(spool, "xb") as handle:
            async for chunk in _chunks(content):
                if sniffer.size + len(chunk) > max_bytes:
                    raise too_large(max_bytes)
                sniffer.feed(chunk)
                digest.update(chunk)
                handle.write(chunk)
        if sniffer.size == 0:
            raise validation_error("file", "is empty")
        detected = await asyncio.to_thread(sniff.detect, sniffer, spool)
        declared = sniff.declared_type(content_type, name)
        kind = sniff.reconcile(detected, declared)
        if kind is None:
            raise HubError("UNSUPPORTED_MEDIA_TYPE", f"The file is {detected}, not {declared} as declared",
                           {"field": "file", "detected": detected, "declared": declared})
        if kind not in allowed:
            raise HubError("UNSUPPORTED_MEDIA_TYPE", f"Files of type {kind} are not accepted here",
                           {"field": "file", "detected": kind, "allowed": sorted(allowed)})
        await store.put(key, spool)
        stored = True
        async with transaction():
            await _add_storage(org_id, sniffer.size, limit)
            row = await StoredFile.create(
                id=file_id, org_id=org_id, name=name, content_type=kind, declared_type=declared, size=sniffer.size,
                sha256=digest.hexdigest(), storage_key=key, purpose=purpose,
                owner_id=None if owner_id is None else str(owner_id)[:64], shared=shared,
                created_by=None if created_by is None else uuid.UUID(str(created_by)))
        return FileInfo.of(row)
    except BaseException:
        if stored:
            await _forget(store, key)
        raise
    finally:
        spool.unlink(missing_ok=True)


async def _forget(store: FileStore, key: str) -> None:
    try:
        await store.delete(key)
    except Exception:  # the row is gone or was never made: the blob is an orphan, not a leak
        log.exception("files: could not delete %s from the %s store", key, store.name)


# -- reading and deleting -----------------------------------------------------------------------------


async def _row(org_id: Any, file_id: Any, purpose: str | None, shared: bool | None) -> StoredFile:
    row = await StoredFile.get_for_org(org_id, file_id, "File")
    if (purpose is not None and row.purpose != purpose) or (shared is not None and row.shared != shared):
        raise not_found("File")
    return row


async def file_info(org_id: Any, file_id: Any, *, purpose: str | None = None, shared: bool | None = None) -> FileInfo:
    """The file's info; 404 NOT_FOUND when it is not the organization's (or not of `purpose`,
    or not `shared` as asked): another organization's id is just unknown."""
    return FileInfo.of(await _row(org_id, file_id, purpose, shared))


class FileReader:
    """An opened file: `info`, and its content as an async iterator of chunks."""

    def __init__(self, info: FileInfo, chunks: AsyncIterator[bytes]) -> None:
        self.info = info
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks


async def open_file(org_id: Any, file_id: Any, *, purpose: str | None = None, shared: bool | None = None,
                    chunk_bytes: int = CHUNK_BYTES, hub: Any = None) -> FileReader:
    """The file's content, chunk by chunk (`async for chunk in await open_file(...)`), and its
    `info`; 404 (raised here, before any chunk) as `file_info`."""
    row = await _row(org_id, file_id, purpose, shared)
    store = store_of(hub)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in store.read(row.storage_key, chunk_bytes):
                yield chunk
        except FileNotFoundError:
            log.error("files: %s is recorded but missing from the %s store", row.storage_key, store.name)
            raise not_found("File content") from None

    return FileReader(FileInfo.of(row), chunks())


async def delete_file(org_id: Any, file_id: Any, *, purpose: str | None = None, hub: Any = None) -> FileInfo:
    """Delete the file (row and bytes) and give its storage back; 404 as `file_info`."""
    async with transaction():
        row = await _row(org_id, file_id, purpose, None)
        if not await StoredFile.filter(org_id=row.org_id, id=row.id).delete():
            raise not_found("File")  # deleted meanwhile by another request
        await StorageUsage.filter(org_id=row.org_id).update(used_bytes=F("used_bytes") - row.size)
    await _forget(store_of(hub), row.storage_key)
    return FileInfo.of(row)


async def delete_files(org_id: Any, *, purpose: str, owner_id: Any = None, hub: Any = None) -> int:
    """Delete every file of `purpose` (and of `owner_id`, when given): a plugin cleaning up after
    a deleted resource. How many were deleted."""
    query = StoredFile.for_org(org_id).filter(purpose=purpose)
    if owner_id is not None:
        query = query.filter(owner_id=str(owner_id))
    deleted = 0
    for file_id in await query.values_list("id", flat=True):
        try:
            await delete_file(org_id, file_id, hub=hub)
            deleted += 1
        except HubError:  # deleted meanwhile
            pass
    return deleted


# -- downloads ----------------------------------------------------------------------------------------


def content_disposition(name: str, inline: bool = False) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def file_response(org_id: Any, file_id: Any, *, inline: bool = False, purpose: str | None = None,
                        shared: bool | None = None, hub: Any = None) -> Response:
    """A route's answer that downloads the file: streamed, its detected type, `nosniff`, a
    sandboxing CSP, and `Content-Disposition: attachment` (or inline when asked and the type
    is an image, a PDF or plain text; markup such as HTML or SVG never is). 404 as `file_info`."""
    reader = await open_file(org_id, file_id, purpose=purpose, shared=shared, hub=hub)
    info = reader.info
    active = info.content_type in sniff.ACTIVE_TYPES
    media_type = "application/octet-stream" if active else info.content_type
    response = Response(reader.__aiter__(), mimetype=media_type)
    response.headers["Content-Length"] = str(info.size)
    response.headers["Content-Disposition"] = content_disposition(
        info.name, inline=inline and info.content_type in INLINE_TYPES)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["ETag"] = f'"{info.sha256}"'
    return response
