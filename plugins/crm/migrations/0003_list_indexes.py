"""Indexes for lists at 100k rows per organization (measured with bench/crm_lists.py).

Lists are ordered `created_at DESC, id DESC` (id breaks ties, so pages are stable). The
0001 indexes (org_id, created_at) and (org_id, status, created_at) lack `id`, so both
databases sorted every candidate row again (SQLite: "USE TEMP B-TREE FOR RIGHT PART OF
ORDER BY", PostgreSQL: an incremental sort), which made deep offsets read and sort the whole
prefix: GET /api/leads?offset=50000 took ~400 ms of SQLite time (now ~10 ms: with the full
ordering in the index SQLite skips the offset rows inside the index) and ~76 ms on
PostgreSQL (now ~35 ms).

(org_id, email) and (org_id, lead_id) serve the update of `last_contact_date` that every
message makes (contacts linked to the lead or sharing its e-mail), which scanned all of the
organization's contacts.

Plain SQL in the style of 0002 (the models' Meta does not list these indexes, so
`hub makemigrations` leaves them alone); IF NOT EXISTS on both dialects.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = {
    "crm_lead_org_created_id": "crm_lead (org_id, created_at, id)",
    "crm_lead_org_status_created_id": "crm_lead (org_id, status, created_at, id)",
    "crm_contact_org_created_id": "crm_contact (org_id, created_at, id)",
    "crm_contact_org_email": "crm_contact (org_id, email)",
    "crm_contact_org_lead": "crm_contact (org_id, lead_id)",
}


async def add_indexes(apps, schema_editor) -> None:
    for name, target in INDEXES.items():
        await schema_editor.client.execute_script(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


async def drop_indexes(apps, schema_editor) -> None:
    for name in INDEXES:
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_contact_search")]
    operations = [ops.RunPython(add_indexes, drop_indexes, atomic=False)]
