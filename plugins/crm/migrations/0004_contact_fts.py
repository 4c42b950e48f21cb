"""Contact search on SQLite: an FTS5 table with the trigram tokenizer over `search_text`, so
`?search=` of 3 characters or more is an index lookup instead of a scan of every contact
(PostgreSQL has its pg_trgm index, migrations/0002_contact_search.py; this does nothing there).

crm_contact_fts is an external-content FTS5 table (content='crm_contact'): it stores only the
trigram index, keyed by crm_contact's rowid, and reads no text back (a MATCH needs none).
Triggers keep it in step with crm_contact on INSERT, DELETE and on UPDATEs that change
`search_text` (the service writes it lower(name email company), so the index is case-sensitive
over lower-cased text: a MATCH of a lower-cased phrase is exactly `search_text LIKE '%term%'`).
Existing rows are indexed by the 'rebuild' command. `tokenize='trigram'` needs SQLite 3.34
(the Hub's Python ships 3.40); without FTS5 or trigram the migration logs a warning and search
keeps its LIKE scan (plugins/crm/service.py uses the index only where the table and its three
triggers exist: a later migration that rebuilds crm_contact drops the triggers with it).

If the index ever disagreed with the table (crm_contact's rowids are implicit: a VACUUM keeps
them in practice, though SQLite's documentation does not promise it),
`INSERT INTO crm_contact_fts(crm_contact_fts) VALUES('rebuild')` builds it again from crm_contact.
"""

import logging

from tortoise import migrations
from tortoise.migrations import operations as ops

log = logging.getLogger("hub.crm")

TABLE = "crm_contact_fts"
CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
    "search_text, content='crm_contact', content_rowid='rowid', tokenize='trigram case_sensitive 1')"
)
TRIGGERS = {
    f"{TABLE}_insert": f"""AFTER INSERT ON crm_contact BEGIN
        INSERT INTO {TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
    f"{TABLE}_delete": f"""AFTER DELETE ON crm_contact BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    END""",
    f"{TABLE}_update": f"""AFTER UPDATE OF search_text ON crm_contact
        WHEN old.search_text IS NOT new.search_text BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
        INSERT INTO {TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
}


async def add_search_index(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    try:
        await client.execute_script(CREATE)
    except Exception as error:  # no FTS5, or SQLite before 3.34 (no trigram): search still works, by scanning
        log.warning("FTS5 trigram search is unavailable (%s): contact search will scan crm_contact", error)
        return
    for name, body in TRIGGERS.items():
        await client.execute_script(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
    await client.execute_script(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")  # the rows already there


async def drop_search_index(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    for name in TRIGGERS:
        await client.execute_script(f"DROP TRIGGER IF EXISTS {name}")
    await client.execute_script(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_list_indexes")]
    operations = [ops.RunPython(add_search_index, drop_search_index, atomic=False)]
