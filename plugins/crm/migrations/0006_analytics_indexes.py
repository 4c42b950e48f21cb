"""An index for the analytics metric "pipeline value by source" (plugins/crm/metrics.py, summed by
plugins/analytics/engine.py) at 1M leads per organization (measured with
bench/analytics_queries.py).

The engine's statement is
    SELECT source, SUM(value) FROM crm_lead WHERE org_id = ? AND status NOT IN (?, ?)
    GROUP BY 1 ORDER BY 1
On SQLite its plan was `SEARCH crm_lead USING INDEX (org_id, source)`: groups in order, but a
table lookup for `status` and `value` of each of the organization's rows, ~1.0-1.4 s at 1M
leads. With (org_id, source, status, value) it is `SEARCH crm_lead USING COVERING INDEX
(org_id=?)`: an index-only scan already in GROUP BY order (no temp B-tree), `status` filtered
and `value` summed from the index, ~0.27 s. Column order matters: (org_id, status, source,
value) covers the columns too, but SQLite keeps the (org_id, source) index for the GROUP BY
order and still reads the table (no gain). `created_at` is left out: a time-bounded sum keeps
using the (org_id, created_at, id) range, and the column would make the index ~40% bigger.

One index, not several: each written lead updates every index of crm_lead. SQLite only:
PostgreSQL's planner keeps a parallel sequential scan with a hash aggregate for this sum at 1M
rows, with or without the index (EXPLAIN ANALYZE, also after VACUUM), so there it would only
cost writes and ~86 MB. Plain SQL in the style of 0003 (the models' Meta does not list it).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = {
    "crm_lead_org_source_status_value": "crm_lead (org_id, source, status, value)",
}


async def add_indexes(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "sqlite":
        return
    for name, target in INDEXES.items():
        await schema_editor.client.execute_script(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


async def drop_indexes(apps, schema_editor) -> None:
    for name in INDEXES:
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0005_contact_link")]
    operations = [ops.RunPython(add_indexes, drop_indexes, atomic=False)]
