"""Contact search on PostgreSQL: a trigram index makes `search_text LIKE '%term%'` an index
scan instead of a table scan. SQLite has no such index type and scans (see bench/crm_lists.py)."""

import logging

from tortoise import migrations
from tortoise.migrations import operations as ops

log = logging.getLogger("hub.crm")


async def add_trigram_index(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    try:
        await client.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # needs a privileged role; search still works, only slower
        log.warning("pg_trgm is unavailable: contact search will scan crm_contact")
        return
    await client.execute_script(
        "CREATE INDEX IF NOT EXISTS crm_contact_search_trgm ON crm_contact USING gin (search_text gin_trgm_ops)"
    )


async def drop_trigram_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script("DROP INDEX IF EXISTS crm_contact_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [ops.RunPython(add_trigram_index, drop_trigram_index, atomic=False)]
