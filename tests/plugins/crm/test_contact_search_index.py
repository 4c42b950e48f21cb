"""Contact search through the SQLite FTS5 trigram index (migrations/0004_contact_fts.py): the
same contacts as the LIKE search over a corpus with characters that mean something to LIKE, to
FTS5 queries or to case folding; the index kept in step by its triggers on insert, update and
delete; the migration indexing the rows already there, and undone. PostgreSQL searches through
its pg_trgm index instead: the SQLite-only checks are skipped there."""

from __future__ import annotations

import os
import random
import sqlite3
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from core.testing import DATABASE_URL_VARIABLE
from plugins.crm.models import Contact
from plugins.crm.service import FTS_MIN_TERM, FTS_TABLE, _fts_matches, _search_text
from tests.helpers import register_and_login
from tests.plugins.crm.support import CrmApi

CORPUS = [
    ("Dan 100% Pure", "dan@pure.com", "Percent Co"),
    ("Dan 1000 Pure", "dan1000@pure.com", "Thousand Co"),
    ("Eve a_b", "eve@under.score", None),
    ("Eve axb", "evex@under.score", None),
    ("Back\\slash Bob", "bob@back.io", "Slash\\Co"),
    ('Quote "Double" Q', "q@quote.io", 'Say "hi" Ltd'),
    ("O'Brien Single", "obrien@quote.io", "O'Hara & Sons"),
    ("Carol Díaz", "carol@example.com", None),
    ("CAROL DIAZ", "carol.diaz@example.com", "ÁCME"),
    ("Groß Straße", "gross@strasse.de", "Weiß GmbH"),
    ("İstanbul İnce", "ince@istanbul.tr", "İZMİR A.Ş."),
    ("Emoji 😀 Smile", "smile@emoji.io", "Happy 😀😀 Co"),
    ("Star * Caret ^ Colon : Paren ( )", "sym@bols.io", "NEAR AND OR NOT"),
    ("Spaces   Many", "spaces@many.io", "  Padded  "),
    ("Tab\tName", "tab@name.io", "Dash-Co -x"),
    ("日本語 名前", "nihongo@example.jp", "株式会社テスト"),
    ("ab", None, None),
    ("abc", None, None),
    ("Mixed CaSe", "MiXeD@Case.IO", "CaSe Co"),
]
FIXED_TERMS = [
    "100%", "%", "0%", "a_b", "_", "_b", "\\", "\\s", "k\\sl", '"', '"double"', 'say "hi', "'", "o'b", "o'hara",
    "díaz", "DÍAZ", "diaz", "groß", "GROSS", "straße", "weiß", "istanbul", "i̇stanbul", "İstanbul", "i̇zmi̇r",
    "😀", "😀😀", "y 😀", "* c", "^ c", ": p", "( )", "near and", "and", "or", "not", "   many  ", "es   m", "b\tn",
    "-x", "dash-", "日本", "日本語", "名前", "テスト", "ab", "abc", "bc", "mixed case", "mixed@case.io", "@", ".io",
    "nobody-by-this-name", "xyz", "co", "co ", " co",
]


def substring_matches(rows, term: str) -> list[str]:
    """The names of `rows` (name, email, company) a search for `term` must find, by Python."""
    wanted = term.strip().lower()
    return sorted(name for name, email, company in rows if wanted in _search_text(name, email, company))


@pytest.fixture(scope="module")
async def corpus(app):
    """An organization of its own holding CORPUS: half created through the API (which strips
    and normalizes some of it), half in bulk; `corpus.rows` as stored."""
    client = app.test_client()
    api = CrmApi.of(client, await register_and_login(client, organization_name="Corpus"))
    for name, email, company in CORPUS[::2]:
        await api.contact(name=name, company=company, **({"email": email} if email else {}))
    await Contact.bulk_create([Contact(org_id=api.org_id, name=n, email=e, company=c, search_text=_search_text(n, e, c))
                               for n, e, c in CORPUS[1::2]])
    api.rows = await Contact.for_org(api.org_id).values_list("name", "email", "company")
    assert len(api.rows) == len(CORPUS)
    return api


ON_SQLITE = not os.environ.get(DATABASE_URL_VARIABLE, "").startswith("postgres")


def sqlite_only(test):
    """A test of SQLite's FTS5 index itself: on PostgreSQL (searching through pg_trgm) it is not
    collected at all (the search tests above run on both)."""
    return test if ON_SQLITE else None


def random_terms(count: int = 150) -> list[str]:
    rng = random.Random(4)
    texts = [_search_text(*row) for row in CORPUS]
    terms = []
    for _ in range(count):
        text = rng.choice(texts)
        start = rng.randrange(len(text))
        terms.append(text[start:start + rng.randrange(1, 7)])
    return terms


@pytest.mark.parametrize("term", FIXED_TERMS + random_terms())
async def test_search_is_the_substring_search(corpus, term):
    body = await corpus.get(f"/api/contacts?search={quote(term)}&sort=name&limit=100")
    expected = substring_matches(corpus.rows, term)
    assert sorted(c["name"] for c in body["contacts"]) == expected, term
    assert body["total"] == len(expected)
    like = await Contact.for_org(corpus.org_id).filter(search_text__contains=term.strip().lower()).count()
    assert like == body["total"]


@pytest.mark.parametrize("term", FIXED_TERMS + random_terms(60))
async def test_search_gives_the_same_page_with_and_without_the_index(app, corpus, term, monkeypatch):
    """The same page (rows, their order, total, hasMore, nextCursor; by offset and by cursor,
    counted or not) whether the index finds the contacts or the LIKE scan does; on SQLite terms
    of 3+ characters really went through the index (on PostgreSQL both sides are its LIKE)."""
    from core import Page
    from plugins.crm import service

    used = []

    async def spy(*args, **kwargs):
        found = await _fts_matches(*args, **kwargs)
        used.append(found is not None)
        return found

    async def without(*args, **kwargs):
        return None

    async def pages() -> list:
        results = []
        async with app.test_request_context("/api/contacts"):
            for sort, order in (("name", "asc"), ("company", "desc"), ("createdAt", "desc")):
                for page in (Page(0, 3), Page(1, 3, count=False), Page(0, 3, cursor=""), Page(0, 3, cursor="", count=True)):
                    rows, total = await service.list_contacts(corpus.org_id, page, term, (), sort, order)
                    results.append(([row["id"] for row in rows], total, dict(page.found)))
                    if page.found.get("next_cursor"):  # and the page after it
                        after = Page(0, 3, cursor=page.found["next_cursor"])
                        rows, total = await service.list_contacts(corpus.org_id, after, term, (), sort, order)
                        results.append(([row["id"] for row in rows], total, dict(after.found)))
        return results

    monkeypatch.setattr(service, "_fts_matches", spy)
    indexed = await pages()
    monkeypatch.setattr(service, "_fts_matches", without)
    scanned = await pages()
    assert indexed == scanned
    expected = len(substring_matches(corpus.rows, term))
    assert [total for _, total, _ in indexed[:1]] == [expected]
    wanted = term.strip().lower()
    if connections.get("default").capabilities.dialect == "sqlite" and wanted:
        assert set(used) == {len(wanted) >= FTS_MIN_TERM}, term


@sqlite_only
async def test_terms_of_three_characters_go_through_the_index(corpus):
    for term in ("pure", "100%", "a_b", '"double"', "y 😀", "😀😀 ", "日本語", "o'hara"):
        async with in_transaction() as connection:
            found = await _fts_matches(connection, corpus.org_id, term.lower(), count=True)
        assert found is not None and len(term) >= FTS_MIN_TERM
        assert len(found[0]) == found[1] == len(substring_matches(corpus.rows, term)) > 0, term
    async with in_transaction() as connection:
        assert await _fts_matches(connection, corpus.org_id, "ab", count=True) is None  # too short: LIKE


async def test_the_index_is_per_organization(corpus, api):
    await api.contact(name="Dan 100% Pure")
    assert [c["name"] for c in (await api.get("/api/contacts?search=100%25"))["contacts"]] == ["Dan 100% Pure"]
    assert len((await corpus.get("/api/contacts?search=100%25"))["contacts"]) == 1


async def indexed(text: str) -> set[str]:
    """The contacts whose indexed text contains `text`, asked of the FTS table directly."""
    _, rows = await connections.get("default").execute_query(
        f"SELECT c.id FROM {FTS_TABLE} JOIN crm_contact c ON c.rowid = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ?", ['"' + text.replace('"', '""') + '"'])
    return {str(row[0]) for row in rows}


async def integrity_check() -> None:
    await connections.get("default").execute_script(
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")


@sqlite_only
async def test_the_index_follows_inserts_updates_and_deletes(api):
    contact = await api.contact(name="Zoltan Original", email="zoltan@first.io", company="Firstco")
    assert contact["id"] in await indexed("zoltan original") and contact["id"] in await indexed("firstco")
    await api.put(f"/api/contacts/{contact['id']}", {"name": "Zoltan Renamed", "company": "Secondco"})
    assert contact["id"] not in await indexed("original") and contact["id"] not in await indexed("firstco")
    assert contact["id"] in await indexed("zoltan renamed") and contact["id"] in await indexed("secondco")
    assert [c["name"] for c in (await api.get("/api/contacts?search=renamed"))["contacts"]] == ["Zoltan Renamed"]
    assert (await api.get("/api/contacts?search=original"))["contacts"] == []

    # an update that leaves search_text alone (a message's last_contact_date, a tag) keeps the entry
    await api.put(f"/api/contacts/{contact['id']}", {"tags": ["vip"], "position": "CEO"})
    await Contact.filter(id=contact["id"]).update(notes="bulk update, no search_text")
    assert contact["id"] in await indexed("secondco")

    # updates and deletes straight through the ORM, in bulk, are caught by the triggers too
    await Contact.filter(id=contact["id"]).update(search_text="bulk renamed text")
    assert contact["id"] in await indexed("bulk renamed") and contact["id"] not in await indexed("secondco")
    await api.delete(f"/api/contacts/{contact['id']}")
    assert contact["id"] not in await indexed("bulk renamed")
    assert (await api.get("/api/contacts?search=bulk renamed"))["contacts"] == []
    other = await api.contact(name="Deleted In Bulk")
    await Contact.filter(id=other["id"]).delete()
    assert not await indexed("deleted in bulk")
    await integrity_check()


@sqlite_only
async def test_bulk_updates_that_leave_search_text_alone_keep_the_index(api, admin):
    """The service's own bulk UPDATEs of other columns (a company deleted: company_id=None; a
    lead deleted: lead_id=None; a message: last_contact_date) and bulk deletes: the index keeps
    every remaining contact under its text, and agrees with crm_contact (integrity-check)."""
    company = await api.company(name="Linked Co")
    lead = await api.lead(name="Linked Lead", email="kept@linked.io")
    kept = [await api.contact(name=f"Kept Person {i}", email="kept@linked.io", company="Textco",
                              companyId=company["id"]) for i in range(3)]
    await Contact.filter(id=kept[0]["id"]).update(lead_id=lead["id"])
    await api.message(lead["id"], "hello")  # UPDATE crm_contact SET last_contact_date (by lead and email)
    assert all(c["lastContactDate"] for c in (await api.get("/api/contacts?search=kept person"))["contacts"])
    await api.delete(f"/api/companies/{company['id']}")  # UPDATE crm_contact SET company_id=NULL
    await api.delete(f"/api/leads/{lead['id']}")  # UPDATE crm_contact SET lead_id=NULL
    await Contact.for_org(admin.org_id).filter(company="Textco").update(company_id=None, status="inactive")
    rows = await Contact.filter(id__in=[c["id"] for c in kept]).values("company_id", "lead_id", "status")
    assert rows == [{"company_id": None, "lead_id": None, "status": "inactive"}] * 3
    assert await indexed("kept person") == {c["id"] for c in kept}
    found = (await api.get("/api/contacts?search=kept person&sort=name"))["contacts"]
    assert [c["name"] for c in found] == [f"Kept Person {i}" for i in range(3)]
    await integrity_check()
    # a bulk update that does change search_text, and a bulk delete of several rows
    await Contact.filter(id__in=[c["id"] for c in kept[:2]]).update(search_text="renamed in bulk")
    assert await indexed("renamed in bulk") == {c["id"] for c in kept[:2]}
    assert await indexed("kept person") == {kept[2]["id"]}
    await Contact.filter(id__in=[c["id"] for c in kept]).delete()
    assert not await indexed("renamed in bulk") and not await indexed("kept person")
    await integrity_check()


@sqlite_only
async def test_without_its_triggers_the_index_is_not_used(api, monkeypatch):
    """A database whose index lacks a trigger (a later migration rebuilt crm_contact) searches
    by LIKE instead of trusting an index that no longer follows the table."""
    from plugins.crm import service

    module = migration()
    assert set(module.TRIGGERS) == set(service.FTS_TRIGGERS) and module.TABLE == FTS_TABLE
    monkeypatch.setattr(service, "_fts_ready", set())
    monkeypatch.setattr(service, "FTS_TRIGGERS", (*service.FTS_TRIGGERS, "crm_contact_fts_missing"))
    async with in_transaction() as connection:
        assert await _fts_matches(connection, api.org_id, "anything", count=True) is None
    monkeypatch.undo()
    async with in_transaction() as connection:
        assert await _fts_matches(connection, api.org_id, "anything", count=True) == ([], 0)


# -- the migration -----------------------------------------------------------------------------------


class SqliteEditor:
    """What the migration's functions use of a schema editor, over a plain sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection):
        async def execute_script(sql: str) -> None:
            connection.executescript(sql)

        self.client = SimpleNamespace(capabilities=SimpleNamespace(dialect="sqlite"), execute_script=execute_script)


def migration():
    import importlib

    return importlib.import_module("plugins.crm.migrations.0004_contact_fts")


async def test_the_migration_indexes_existing_rows_and_is_undone(tmp_path):
    module = migration()
    connection = sqlite3.connect(tmp_path / "crm.sqlite3", isolation_level=None)
    connection.execute("CREATE TABLE crm_contact (id CHAR(36) PRIMARY KEY NOT NULL, org_id CHAR(36) NOT NULL, "
                       "search_text VARCHAR(700) NOT NULL DEFAULT '', notes TEXT)")
    rows = [(f"id-{i}", "org", _search_text(*row)) for i, row in enumerate(CORPUS)]
    connection.executemany("INSERT INTO crm_contact (id, org_id, search_text) VALUES (?, ?, ?)", rows)
    editor = SqliteEditor(connection)

    await module.add_search_index(None, editor)
    await module.add_search_index(None, editor)  # again: nothing changes (IF NOT EXISTS, rebuild)

    def search(term: str) -> list[str]:
        return sorted(row[0] for row in connection.execute(
            f"SELECT c.id FROM {FTS_TABLE} JOIN crm_contact c ON c.rowid = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH ?",
            ['"' + term.replace('"', '""') + '"']))

    for term in [t for t in FIXED_TERMS + random_terms() if len(t.strip()) >= FTS_MIN_TERM]:
        wanted = term.strip().lower()
        assert search(wanted) == sorted(f"id-{i}" for i, row in enumerate(CORPUS) if wanted in _search_text(*row)), term
    connection.execute("UPDATE crm_contact SET search_text = 'fresh text' WHERE id = 'id-0'")
    connection.execute("DELETE FROM crm_contact WHERE id = 'id-1'")
    connection.execute("INSERT INTO crm_contact (id, org_id, search_text) VALUES ('id-new', 'org', 'fresh too')")
    assert search("fresh") == ["id-0", "id-new"] and search("pure") == []
    connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
    # VACUUM with gaps in the rowids (the index is keyed by crm_contact's implicit rowid)
    connection.execute("DELETE FROM crm_contact WHERE id IN ('id-2', 'id-5', 'id-6')")
    before = connection.execute("SELECT rowid, id FROM crm_contact ORDER BY rowid").fetchall()
    connection.execute("VACUUM")
    assert connection.execute("SELECT rowid, id FROM crm_contact ORDER BY rowid").fetchall() == before
    connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
    assert search("fresh") == ["id-0", "id-new"] and search("eve") == ["id-3"]

    await module.drop_search_index(None, editor)
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert not {name for name in names if name.startswith(FTS_TABLE)}
    connection.execute("INSERT INTO crm_contact (id, org_id, search_text) VALUES ('id-after', 'org', 'x')")
    connection.close()


async def test_the_migration_does_nothing_on_postgresql():
    module = migration()
    calls = []

    async def execute_script(sql: str) -> None:
        calls.append(sql)

    editor = SimpleNamespace(client=SimpleNamespace(capabilities=SimpleNamespace(dialect="postgres"),
                                                    execute_script=execute_script))
    await module.add_search_index(None, editor)
    await module.drop_search_index(None, editor)
    assert calls == []
