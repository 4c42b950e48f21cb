"""crm_contact_link: which contact another system's record is (source, external_id), written by
the `upsert_contact` hub function (plugins/crm/functions.py); and an index on
(org_id, lower(email)) for its case-insensitive e-mail match (an expression index, plain SQL on
both dialects, so the models' Meta does not list it)."""

from uuid import uuid4

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

EMAIL_INDEX = "CREATE INDEX IF NOT EXISTS crm_contact_org_email_lower ON crm_contact (org_id, lower(email))"


async def add_email_index(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(EMAIL_INDEX)


async def drop_email_index(apps, schema_editor) -> None:
    await schema_editor.client.execute_script("DROP INDEX IF EXISTS crm_contact_org_email_lower")


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_contact_fts")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ContactLink",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("org_id", fields.UUIDField(db_index=True)),
                ("contact_id", fields.UUIDField()),
                ("source", fields.CharField(max_length=64)),
                ("external_id", fields.CharField(max_length=200)),
            ],
            options={"table": "crm_contact_link", "app": "crm",
                     "unique_together": (("org_id", "source", "external_id"),),
                     "indexes": [Index(fields=["org_id", "contact_id"])], "pk_attr": "id"},
            bases=["TenantModel"],
        ),
        ops.RunPython(add_email_index, drop_email_index, atomic=False),
    ]
