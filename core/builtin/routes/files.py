"""`/api/files`: the organization's own uploads (core/files does the storing).

    POST   /api/files                 multipart/form-data, the file in part `file` -> 201 its info
    GET    /api/files                 ?limit&offset&purpose, newest first, and the storage used
    GET    /api/files/{id}            its info
    GET    /api/files/{id}/content    the bytes, as an attachment
    DELETE /api/files/{id}            204; a file a plugin keeps (an attachment...) is deleted there

These routes see the files that are `shared` (every upload; a plugin's when it says so); a
plugin's private files are served by the plugin's own routes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import DataSource, document_request, document_response

from core.files import service
from core.files.models import StoredFile
from core.files.uploads import save_upload
from core.http.auth import current_principal, require
from core.http.errors import max_body
from core.http.openapi import Text, document_errors
from core.http.pagination import OffsetQuery, Pagination
from core.http.query import Blankable, validate_query
from core.kernel.errors import conflict

bp = Blueprint("core_files", __name__)

FORM_OVERHEAD = 64 * 1024  # the multipart framing around the file


class FileUpload(BaseModel):
    """multipart/form-data with the file in the part `file` (its name and Content-Type are
    the client's; the type stored is told from the content)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


class StorageOut(BaseModel):
    used_bytes: int
    limit_bytes: int | None = Field(description="the plan's storage_mb in bytes; null: unlimited")


class FileList(BaseModel):
    files: list[service.FileInfo]
    total: int
    pagination: Pagination
    storage: StorageOut


class FileQuery(OffsetQuery):
    purpose: Blankable[Annotated[str, Field(max_length=64)]] = Field(
        None, description='only files of this purpose ("upload", or a plugin\'s, e.g. "support.attachment")')


def upload_limit(hub) -> int:
    return hub.settings.files.max_upload_bytes + FORM_OVERHEAD


@bp.post("/api/files")
@require("files.write")
@max_body(upload_limit)
@document_request(FileUpload, source=DataSource.FORM_MULTIPART)
@document_errors(400, 413, 415)
@document_response(service.FileInfo, 201)
async def upload_file():
    """Upload a file (multipart/form-data, part `file`): its type is detected from its content
    and must be one of `[files] allowed_types`; at most `[files] max_upload_bytes`; it counts
    toward the plan's `storage_mb` (429 QUOTA_EXCEEDED past it)."""
    info = await save_upload(field="file")
    return info.model_dump(mode="json"), 201


@bp.get("/api/files")
@require("files.read")
@validate_query(FileQuery)
@document_response(FileList)
async def list_files(query_args: FileQuery):
    """The organization's files, newest first, and the storage it uses."""
    org_id = current_principal().org_id
    page = query_args.page()
    query = StoredFile.for_org(org_id).filter(shared=True)
    if query_args.purpose:
        query = query.filter(purpose=query_args.purpose)
    rows, total = await page.fetch(query, "-created_at")
    storage = StorageOut(used_bytes=await service.storage_used(org_id),
                         limit_bytes=await service.storage_limit(org_id))
    return page.listing("files", [service.FileInfo.of(row).model_dump(mode="json") for row in rows], total,
                        storage=storage.model_dump())


@bp.get("/api/files/<file_id>")
@require("files.read")
@document_response(service.FileInfo)
async def get_file(file_id: str):
    """One file's info: name, detected type, size, SHA-256, purpose."""
    info = await service.file_info(current_principal().org_id, file_id, shared=True)
    return info.model_dump(mode="json")


@bp.get("/api/files/<file_id>/content")
@require("files.read")
@document_response(Text("application/octet-stream"))
async def download_file(file_id: str):
    """The file's bytes, always as an attachment (never shown in the browser tab), with its
    detected type and `X-Content-Type-Options: nosniff`."""
    return await service.file_response(current_principal().org_id, file_id, shared=True)


@bp.delete("/api/files/<file_id>")
@require("files.write")
@document_errors(409)
@document_response(None, 204)
async def delete_file(file_id: str):
    """Delete an upload and give its storage back (409 for a file a plugin keeps: delete the
    attachment, logo... where it belongs)."""
    org_id = current_principal().org_id
    info = await service.file_info(org_id, file_id, shared=True)
    if info.purpose != service.UPLOAD_PURPOSE:
        raise conflict(f"This file belongs to {info.purpose}: delete it there", purpose=info.purpose)
    await service.delete_file(org_id, file_id, purpose=service.UPLOAD_PURPOSE)
    return "", 204
