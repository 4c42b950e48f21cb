"""The tables of the file storage: one row per stored file, and each organization's bytes."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from core.kernel.models import TenantModel


class StoredFile(TenantModel):
    """A file in the store (its bytes under `storage_key`, never under the name it came with)."""

    name = fields.CharField(max_length=255)  # the uploader's name, sanitised: for display and downloads only
    content_type = fields.CharField(max_length=128)  # detected from the content
    declared_type = fields.CharField(max_length=128, null=True)  # what the client said, if anything
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=255)
    # who it belongs to: "upload" (POST /api/files) or a plugin's "<plugin>.<what>", and which of
    # that plugin's resources (a ticket's id, ...)
    purpose = fields.CharField(max_length=64, default="upload", db_index=True)
    owner_id = fields.CharField(max_length=64, null=True, db_index=True)
    # readable through the generic routes (GET /api/files...) and workflows, or only through the
    # owning plugin's own routes
    shared = fields.BooleanField(default=True)
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "core_stored_file"


class StorageUsage(Model):
    """Bytes stored per organization, changed in the transaction that adds or removes a file
    (with a conditional update, so a storage_mb quota holds across processes)."""

    org_id = fields.UUIDField(primary_key=True)
    used_bytes = fields.BigIntField(default=0)

    class Meta:
        table = "core_storage_usage"
