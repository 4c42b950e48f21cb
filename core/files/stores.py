"""Where the bytes live: a directory (the default) or an S3-compatible bucket, behind `FileStore`.

A store never sees a user's file name: keys are `<org id>/<file id>`, both UUIDs checked here,
so no key can climb out of the directory or the prefix. A file arrives in the store finished
(spooled, measured and checked by the service first): the local store renames it into place
(atomic: a reader sees all of it or nothing), S3 uploads it (multipart for large files).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

CHUNK_BYTES = 64 * 1024


def file_key(org_id: Any, file_id: Any) -> str:
    """`<org id>/<file id>`; a ValueError for anything but two UUIDs."""
    return f"{uuid.UUID(str(org_id))}/{uuid.UUID(str(file_id))}"


def _checked(key: str) -> tuple[str, str]:
    org, _, name = key.partition("/")
    return str(uuid.UUID(org)), str(uuid.UUID(name))


class FileStore(Protocol):
    """A backend: finished files go in by key, come out as chunks, and are deleted by key."""

    name: str

    @property
    def spool_dir(self) -> Path:
        """A local directory for files being received (on the store's own disk for `local`)."""

    async def put(self, key: str, finished: Path) -> None:
        """Take the finished file at `finished` (it is moved or deleted) as `key`."""

    def read(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The content of `key`, chunk by chunk (FileNotFoundError when it is missing)."""

    async def delete(self, key: str) -> None:
        """Remove `key` (nothing happens when it is already gone)."""

    async def exists(self, key: str) -> bool: ...


class LocalFileStore:
    """Files under one directory: `<root>/<org id>/<first 2 of the file id>/<file id>`."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    @property
    def spool_dir(self) -> Path:
        path = self.root / ".incoming"  # same file system as the files: the rename is atomic
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, key: str) -> Path:
        org, name = _checked(key)
        path = (self.root / org / name[:2] / name).resolve()
        if not path.is_relative_to(self.root):  # cannot happen with two UUIDs; kept as the last word
            raise ValueError(f"key {key!r} is outside the store")
        return path

    async def put(self, key: str, finished: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(finished, target)

    async def read(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self.path(key), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_bytes):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass

    async def exists(self, key: str) -> bool:
        return self.path(key).is_file()


class S3FileStore:
    """Files in an S3-compatible bucket under `prefix`, through boto3 (the official SDK; its
    blocking calls run in threads). Credentials from settings, else boto3's own chain."""

    name = "s3"

    def __init__(self, settings: Any, spool_dir: Path) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - boto3 is in the s3 and test extras
            raise RuntimeError("the s3 file store needs boto3: pip install 'the-hub[s3]'") from None
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self._spool = Path(spool_dir)
        secret = settings.s3_secret_access_key
        key_id = settings.s3_access_key_id
        self.client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=key_id.get_secret_value() if key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    @property
    def spool_dir(self) -> Path:
        self._spool.mkdir(parents=True, exist_ok=True)
        return self._spool

    def object_key(self, key: str) -> str:
        org, name = _checked(key)
        return f"{self.prefix}{org}/{name}"

    async def put(self, key: str, finished: Path) -> None:
        try:
            await asyncio.to_thread(self.client.upload_file, str(finished), self.bucket, self.object_key(key))
        finally:
            finished.unlink(missing_ok=True)

    async def read(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_bytes):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.object_key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True


def store_for(settings: Any) -> FileStore:
    """The store `[files]` configures, for a Hub with these settings."""
    files = settings.files
    root = Path(files.path) if files.path is not None else Path(settings.data_dir) / "files"
    if files.backend == "s3":
        return S3FileStore(files, root / ".incoming")
    return LocalFileStore(root)
