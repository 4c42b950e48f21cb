"""The bases of every table: `TimestampedModel` (uuid id, created_at, updated_at) and
`TenantModel`, the base of every tenant-owned row in every plugin: it carries `org_id` and the
only query entry points a route should use (`for_org`, `get_for_org`)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from tortoise import fields
from tortoise.models import Model

from core.kernel.errors import not_found

T = TypeVar("T", bound="TenantModel")


class TimestampedModel(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantModel(TimestampedModel):
    # A row that belongs to one organization. Query it only through `for_org`.

    org_id = fields.UUIDField(db_index=True)

    class Meta:
        abstract = True

    @classmethod
    def for_org(cls: type[T], org_id: Any):
        return cls.filter(org_id=org_id)

    @classmethod
    async def get_for_org(cls: type[T], org_id: Any, object_id: Any, what: str | None = None) -> T:
        """The row with this id in this organization, or a 404 (also for malformed ids and
        for ids of other organizations, which must be indistinguishable)."""
        try:
            object_id = uuid.UUID(str(object_id))
        except ValueError:
            raise not_found(what or cls.__name__) from None
        row = await cls.filter(org_id=org_id, id=object_id).first()
        if row is None:
            raise not_found(what or cls.__name__)
        return row
