"""CRM domain logic, callable without HTTP (routes and LLM functions both use it).

Lead status rules (TRANSITIONS below):
    new        -> contacted | qualified | lost
    contacted  -> qualified | lost
    qualified  -> converted | contacted | lost
    lost       -> new            (re-opened)
    converted  is final          (a sale is not undone by editing a lead)
Setting the current status again is a no-op. Anything else is a 400 naming `status`.

Events (core.events.emit, seed 004 shapes plus a few fields): lead.created, lead.updated,
lead.deleted, message.received (from a lead), message.sent (to a lead), metrics.update.
Event data never carries `user_id` unless the event is meant for that user alone (the
WebSocket gateway delivers such events only to that user).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterable

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count, Lower, Sum

from core import HubError, Page, emit, iso, transaction, utcnow, validation_error
from plugins.crm.models import Company, Contact, ContactLink, ContactTag, Conversation, Lead, Message

TRANSITIONS: dict[str, set[str]] = {
    "new": {"contacted", "qualified", "lost"},
    "contacted": {"qualified", "lost"},
    "qualified": {"converted", "contacted", "lost"},
    "lost": {"new"},
    "converted": set(),
}
QUALIFIED_OR_BETTER = ("qualified", "converted")
# sort parameter -> column
CONTACT_SORTS = {"name": "name", "company": "company", "createdAt": "created_at"}
LEAD_SORTS = {"name": "name", "createdAt": "created_at", "value": "value", "status": "status"}


async def _company_in_org(org_id, company_id: str | None) -> uuid.UUID | None:
    if company_id is None:
        return None
    try:
        company_uuid = uuid.UUID(str(company_id))
    except ValueError:
        raise validation_error("companyId", "not a company of this organization") from None
    if not await Company.for_org(org_id).filter(id=company_uuid).exists():
        raise validation_error("companyId", "not a company of this organization")
    return company_uuid


# -- leads ---------------------------------------------------------------------------------------

LEAD_FIELDS = ("id", "name", "email", "phone", "company", "company_id", "status", "source", "value", "notes",
               "created_at", "updated_at")


def lead_json(row: dict) -> dict:
    return {
        "id": str(row["id"]), "name": row["name"], "email": row["email"], "phone": row["phone"],
        "company": row["company"], "companyId": str(row["company_id"]) if row["company_id"] else None,
        "status": row["status"], "source": row["source"], "value": row["value"], "notes": row["notes"],
        "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
    }


def _lead_dict(lead: Lead) -> dict:
    return lead_json({name: getattr(lead, name) for name in LEAD_FIELDS})


def _sort_key(columns: dict[str, str], sort: str, order: str) -> str:
    return columns[sort] if order == "asc" else "-" + columns[sort]


async def list_leads(org_id, page: Page, status: str | None = None, source: str | None = None,
                     company_id: uuid.UUID | None = None, search: str | None = None,
                     sort: str = "createdAt", order: str = "desc") -> tuple[list[dict], int | None]:
    query = Lead.for_org(org_id)
    if status:
        query = query.filter(status=status)
    if source:
        query = query.filter(source=source)
    if company_id:
        query = query.filter(company_id=company_id)
    if search:
        term = search.strip()
        query = query.filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term))
    rows, total = await page.fetch(query, _sort_key(LEAD_SORTS, sort, order), values=LEAD_FIELDS)
    return [lead_json(row) for row in rows], total


async def get_lead(org_id, lead_id) -> dict:
    return _lead_dict(await Lead.get_for_org(org_id, lead_id, "Lead"))


async def create_lead(org_id, actor_id, data: dict) -> dict:
    company_id = await _company_in_org(org_id, data.pop("company_id", None))
    status = data.get("status", "new")
    async with transaction():  # the event exists exactly when the lead does
        lead = await Lead.create(
            org_id=org_id, owner_id=actor_id, company_id=company_id,
            converted_at=utcnow() if status == "converted" else None, **data,
        )
        body = _lead_dict(lead)
        await emit(org_id, "lead.created", {
            "id": body["id"], "name": lead.name, "email": lead.email, "source": lead.source, "status": lead.status,
            "value": lead.value, "company": lead.company, "actorId": str(actor_id) if actor_id else None,
        })
    await _emit_leads_today(org_id)
    return body


async def update_lead(org_id, actor_id, lead_id, changes: dict) -> dict:
    async with transaction():
        lead = await Lead.get_for_org(org_id, lead_id, "Lead")
        previous = lead.status
        if "company_id" in changes:
            changes["company_id"] = await _company_in_org(org_id, changes["company_id"])
        new_status = changes.get("status")
        if new_status and new_status != previous:
            if new_status not in TRANSITIONS[previous]:
                raise HubError("VALIDATION_ERROR", "Invalid status transition", {
                    "field": "status", "reason": f"cannot move a lead from {previous} to {new_status}",
                    "allowed": sorted(TRANSITIONS[previous]),
                })
            if new_status == "converted":
                lead.converted_at = utcnow()
        for name, value in changes.items():
            setattr(lead, name, value)
        await lead.save()
        body = _lead_dict(lead)
        await emit(org_id, "lead.updated", {
            "id": body["id"], "name": lead.name, "status": lead.status, "previousStatus": previous,
            "source": lead.source, "value": lead.value, "changes": sorted(changes),
            "actorId": str(actor_id) if actor_id else None,
        })
    return body


async def delete_lead(org_id, lead_id) -> None:
    lead = await Lead.get_for_org(org_id, lead_id, "Lead")
    async with transaction():
        await Message.for_org(org_id).filter(lead_id=lead.id).delete()
        await Conversation.for_org(org_id).filter(lead_id=lead.id).delete()
        await Contact.for_org(org_id).filter(lead_id=lead.id).update(lead_id=None)
        await lead.delete()
        await emit(org_id, "lead.deleted", {"id": str(lead.id), "name": lead.name})


async def _emit_leads_today(org_id) -> None:
    """seed 004 `metrics.update`: leads created today, and the change against yesterday."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    leads = Lead.for_org(org_id)
    today_count = await leads.filter(created_at__gte=today).count()
    yesterday_count = await leads.filter(created_at__gte=today - timedelta(days=1), created_at__lt=today).count()
    change = today_count - yesterday_count
    await emit(org_id, "metrics.update", {
        "metric": "leads_today", "value": today_count, "change": f"{change:+d}",
        "changeType": "increase" if change > 0 else "decrease" if change < 0 else "unchanged",
    })


# -- contacts ------------------------------------------------------------------------------------

CONTACT_FIELDS = ("id", "name", "email", "phone", "company", "company_id", "position", "tags", "status",
                  "notes", "last_contact_date", "created_at")


def contact_json(row: dict) -> dict:
    return {
        "id": str(row["id"]), "name": row["name"], "email": row["email"], "phone": row["phone"],
        "company": row["company"], "companyId": str(row["company_id"]) if row["company_id"] else None,
        "position": row["position"], "tags": row["tags"] or [], "lastContactDate": iso(row["last_contact_date"]),
        "status": row["status"], "notes": row["notes"], "createdAt": iso(row["created_at"]),
    }


def _contact_dict(contact: Contact) -> dict:
    return contact_json({name: getattr(contact, name) for name in CONTACT_FIELDS})


def _search_text(name: str | None, email: str | None, company: str | None) -> str:
    return " ".join(part for part in (name, email, company) if part).lower()[:700]


# A search matching at most this many contacts fetches its page by id (see list_contacts).
FEW_MATCHES = 1000
# SQLite: the trigram index (migrations/0004_contact_fts.py) finds terms of this many characters
# or more; shorter ones have no trigram and keep the LIKE scan.
FTS_TABLE = "crm_contact_fts"
FTS_TRIGGERS = tuple(f"{FTS_TABLE}_{change}" for change in ("insert", "delete", "update"))
FTS_MIN_TERM = 3
_fts_ready: set[str] = set()  # the SQLite files where crm_contact_fts and its triggers exist


async def _custom_plans(connection) -> None:
    """PostgreSQL: plan this transaction's statements with their actual parameters. asyncpg
    reuses prepared statements, and from the 6th execution PostgreSQL may switch to a generic
    plan, which cannot know that `search_text LIKE $2` is selective: it walks the created_at
    index through every contact of the organization (100-200 ms at 100k contacts instead of
    2 ms through the trigram index). See bench/crm_lists.py."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")


async def _has_fts(connection) -> bool:
    """SQLite, where the index and the three triggers keeping it in step all exist. Without a
    trigger the index would drift from crm_contact (a later migration that rebuilds the table
    drops its triggers): search then scans with LIKE rather than trust it."""
    if connection.capabilities.dialect != "sqlite":
        return False
    root = connection
    while getattr(root, "_parent", None) is not None:  # a transaction's client: its database's
        root = root._parent
    filename = str(getattr(root, "filename", ""))
    if filename not in _fts_ready:
        names = (FTS_TABLE, *FTS_TRIGGERS)
        _, rows = await connection.execute_query(
            f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})", list(names))
        if rows[0][0] != len(names):
            return False
        _fts_ready.add(filename)
    return True


async def _fts_matches(connection, org_id, term: str, count: bool) -> tuple[list[str], int | None] | None:
    """SQLite, terms of 3+ characters: the organization's contacts whose search_text contains
    `term` (lower-cased), through the trigram index: (up to FEW_MATCHES + 1 of their ids, and
    how many there are: the number of ids when they are all there, else counted through the
    index if `count`, else None). None where there is no index or the term is too short. The
    phrase `"term"` of a trigram table is the substring itself, every character literal (%, _;
    a double quote is doubled). At 100k contacts: 0.1 ms for a rare term instead of a 20-40 ms
    LIKE scan; counting 33k matches 15 ms instead of 26 (bench/crm_lists.py)."""
    if len(term) < FTS_MIN_TERM or not await _has_fts(connection):
        return None
    phrase = '"' + term.replace('"', '""') + '"'
    org = str(uuid.UUID(str(org_id)))
    matches = (f"FROM {FTS_TABLE} JOIN crm_contact c ON c.rowid = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH ? AND c.org_id = ?")
    _, rows = await connection.execute_query(f"SELECT c.id {matches} LIMIT ?", [phrase, org, FEW_MATCHES + 1])
    ids = [row[0] for row in rows]
    if len(ids) <= FEW_MATCHES:
        return ids, len(ids)
    if not count:
        return ids, None
    _, rows = await connection.execute_query(f"SELECT count(*) {matches}", [phrase, org])
    return ids, rows[0][0]


async def list_contacts(org_id, page: Page, search: str | None = None, tags: Iterable[str] = (),
                        sort: str = "createdAt", order: str = "desc") -> tuple[list[dict], int | None]:
    """Contacts matching `search` (a substring of lower(name email company)) and carrying every
    tag. Search: PostgreSQL `search_text LIKE` through its pg_trgm index; SQLite through the FTS5
    trigram index for terms of 3+ characters, a LIKE scan for shorter ones (same results)."""
    term = search.strip().lower() if search else ""
    query = Contact.for_org(org_id)
    for tag in tags:  # a contact must carry every tag asked for
        tagged = ContactTag.filter(org_id=org_id, tag=tag).values("contact_id")
        query = query.filter(id__in=Subquery(tagged))
    ordering = _sort_key(CONTACT_SORTS, sort, order)
    async with transaction() as connection:
        indexed = None
        if term:
            await _custom_plans(connection)
            indexed = await _fts_matches(connection, org_id, term, count=page.counts and not tags)
            if indexed is not None and len(indexed[0]) <= FEW_MATCHES:
                query = query.filter(id__in=indexed[0])
            else:  # many matches: walking the sort index with LIKE finds a page quickly
                query = query.filter(search_text__contains=term)
        matches = None
        if indexed is not None and not tags:
            matches = indexed[0]  # the index found them all: nothing to probe
        elif term or tags:
            # Few matches: collect their ids (one scan, which also counts them), then sort just
            # those. Otherwise the database walks the sort index testing every contact until it
            # has a page, which for a rare term means all of them (SQLite without the trigram
            # index: ~250 ms at 100k contacts). Many matches: that walk is short, and only the
            # count scans.
            matches = await query.using_db(connection).limit(FEW_MATCHES + 1).values_list("id", flat=True)
        if matches is not None and len(matches) <= FEW_MATCHES:
            few = Contact.for_org(org_id).filter(id__in=matches).using_db(connection)
            rows, total = await page.fetch(few, ordering, values=CONTACT_FIELDS, total=len(matches))
        else:
            known = indexed[1] if indexed is not None and not tags else None  # the index counted them
            rows, total = await page.fetch(query.using_db(connection), ordering, values=CONTACT_FIELDS, total=known)
    return [contact_json(row) for row in rows], total


async def get_contact(org_id, contact_id) -> dict:
    return _contact_dict(await Contact.get_for_org(org_id, contact_id, "Contact"))


async def _set_tags(org_id, contact: Contact, tags: list[str]) -> None:
    await ContactTag.for_org(org_id).filter(contact_id=contact.id).delete()
    if tags:
        await ContactTag.bulk_create([ContactTag(org_id=org_id, contact_id=contact.id, tag=t) for t in tags])


async def create_contact(org_id, data: dict) -> dict:
    company_id = await _company_in_org(org_id, data.pop("company_id", None))
    async with transaction():
        contact = await Contact.create(
            org_id=org_id, company_id=company_id,
            search_text=_search_text(data.get("name"), data.get("email"), data.get("company")), **data,
        )
        await _set_tags(org_id, contact, contact.tags)
        await emit(org_id, "contact.created",
                   {"id": str(contact.id), "name": contact.name, "email": contact.email, "source": None})
    return _contact_dict(contact)


async def update_contact(org_id, contact_id, changes: dict) -> dict:
    async with transaction():
        contact = await Contact.get_for_org(org_id, contact_id, "Contact")
        if "company_id" in changes:
            changes["company_id"] = await _company_in_org(org_id, changes["company_id"])
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.search_text = _search_text(contact.name, contact.email, contact.company)
        await contact.save()
        if "tags" in changes:
            await _set_tags(org_id, contact, contact.tags)
        await emit(org_id, "contact.updated",
                   {"id": str(contact.id), "name": contact.name, "email": contact.email, "source": None})
    return _contact_dict(contact)


async def delete_contact(org_id, contact_id) -> None:
    contact = await Contact.get_for_org(org_id, contact_id, "Contact")
    async with transaction():
        await ContactTag.for_org(org_id).filter(contact_id=contact.id).delete()
        await ContactLink.for_org(org_id).filter(contact_id=contact.id).delete()
        await contact.delete()


UPSERT_FIELDS = ("name", "email", "phone", "company")


async def _contact_by_email(org_id, email: str) -> Contact | None:
    """The organization's oldest contact with this e-mail, any case (the index on
    (org_id, lower(email)) of migrations/0005_contact_link.py serves it)."""
    # No ORDER BY in SQL: with one, SQLite walks the (org_id, created_at, id) index through every
    # contact of the organization instead (50 contacts/s at 20k contacts, bench/dms_sync.py);
    # the few contacts sharing an e-mail are sorted here.
    matches = await Contact.for_org(org_id).annotate(email_lower=Lower("email")) \
        .filter(email_lower=email.lower()).limit(100)
    return min(matches, key=lambda contact: (contact.created_at, str(contact.id)), default=None)


async def upsert_contact(org_id, data: dict) -> dict:
    """The contact another system (`source`, e.g. "mautic" or "dms:<connection id>") knows as
    `external_id`: the one linked to it (crm_contact_link), else the oldest with the same e-mail
    (any case), else a new one; links it, then sets the given fields that differ (`name`,
    `email`, `phone`, `company`; a field left out or null is kept) and adds the given tags to
    the contact's own. Emits contact.created or contact.updated (when something changed) with
    `source`, so the system that wrote the contact can recognise its own echo.
    Returns {"id", "created"}. Two syncs of the same record at once: the loser of the unique
    (org_id, source, external_id) race runs again and finds the winner's link."""
    for attempt in range(3):
        try:
            return await _upsert_contact(org_id, data)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _upsert_contact(org_id, data: dict) -> dict:
    source, external_id = data["source"], data["external_id"]
    given = {name: data[name] for name in UPSERT_FIELDS if data.get(name) is not None}
    tags = list(dict.fromkeys(data.get("tags") or []))
    async with transaction():
        link = await ContactLink.for_org(org_id).filter(source=source, external_id=external_id).first()
        contact = None
        if link is not None:
            contact = await Contact.for_org(org_id).filter(id=link.contact_id).first()
            if contact is None:  # the contact was deleted in the CRM: link again below
                await link.delete()
                link = None
        if contact is None and given.get("email"):
            contact = await _contact_by_email(org_id, given["email"])
        created = contact is None
        if created:
            contact = await Contact.create(
                org_id=org_id, tags=tags, search_text=_search_text(given.get("name"), given.get("email"),
                                                                    given.get("company")), **given)
            if tags:  # a new contact: no tag rows to replace
                await ContactTag.bulk_create([ContactTag(org_id=org_id, contact_id=contact.id, tag=t) for t in tags])
        else:
            changed = [name for name, value in given.items() if getattr(contact, name) != value]
            for name in changed:
                setattr(contact, name, given[name])
            new_tags = [tag for tag in tags if tag not in (contact.tags or [])]
            if new_tags:
                contact.tags = [*(contact.tags or []), *new_tags]
                changed.append("tags")
            if changed:
                contact.search_text = _search_text(contact.name, contact.email, contact.company)
                await contact.save()
                if new_tags:
                    await ContactTag.bulk_create(
                        [ContactTag(org_id=org_id, contact_id=contact.id, tag=tag) for tag in new_tags])
        if link is None:
            await ContactLink.create(org_id=org_id, contact_id=contact.id, source=source, external_id=external_id)
        payload = {"id": str(contact.id), "name": contact.name, "email": contact.email, "source": source}
        if created:
            await emit(org_id, "contact.created", payload)
        elif changed:
            await emit(org_id, "contact.updated", payload)
    return {"id": str(contact.id), "created": created}


# -- companies -----------------------------------------------------------------------------------

COMPANY_FIELDS = ("id", "name", "domain", "industry", "size", "notes", "created_at", "updated_at")


def company_json(row: dict, leads: int = 0, contacts: int = 0) -> dict:
    return {
        "id": str(row["id"]), "name": row["name"], "domain": row["domain"], "industry": row["industry"],
        "size": row["size"], "notes": row["notes"], "leadCount": leads, "contactCount": contacts,
        "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
    }


async def _link_counts(org_id, company_ids: list) -> tuple[dict, dict]:
    if not company_ids:
        return {}, {}
    leads = await Lead.for_org(org_id).filter(company_id__in=company_ids).annotate(n=Count("id")) \
        .group_by("company_id").values_list("company_id", "n")
    contacts = await Contact.for_org(org_id).filter(company_id__in=company_ids).annotate(n=Count("id")) \
        .group_by("company_id").values_list("company_id", "n")
    return {str(k): v for k, v in leads}, {str(k): v for k, v in contacts}


async def list_companies(org_id, page: Page, search: str | None = None) -> tuple[list[dict], int]:
    query = Company.for_org(org_id)
    if search:
        query = query.filter(name__icontains=search.strip())
    rows, total = await page.fetch(query, "name", values=COMPANY_FIELDS)
    leads, contacts = await _link_counts(org_id, [row["id"] for row in rows])
    return [company_json(r, leads.get(str(r["id"]), 0), contacts.get(str(r["id"]), 0)) for r in rows], total


async def get_company(org_id, company_id) -> dict:
    company = await Company.get_for_org(org_id, company_id, "Company")
    leads, contacts = await _link_counts(org_id, [company.id])
    row = {name: getattr(company, name) for name in COMPANY_FIELDS}
    return company_json(row, leads.get(str(company.id), 0), contacts.get(str(company.id), 0))


async def create_company(org_id, data: dict) -> dict:
    company = await Company.create(org_id=org_id, **data)
    return company_json({name: getattr(company, name) for name in COMPANY_FIELDS})


async def update_company(org_id, company_id, changes: dict) -> dict:
    company = await Company.get_for_org(org_id, company_id, "Company")
    for name, value in changes.items():
        setattr(company, name, value)
    await company.save()
    return await get_company(org_id, company.id)


async def delete_company(org_id, company_id) -> None:
    company = await Company.get_for_org(org_id, company_id, "Company")
    async with transaction():
        await Lead.for_org(org_id).filter(company_id=company.id).update(company_id=None)
        await Contact.for_org(org_id).filter(company_id=company.id).update(company_id=None)
        await company.delete()


# -- conversations and messages --------------------------------------------------------------------


def message_json(message: Message | dict) -> dict:
    get = message.get if isinstance(message, dict) else lambda name: getattr(message, name)
    return {
        "id": str(get("id")), "leadId": str(get("lead_id")), "content": get("content"), "sender": get("sender"),
        "timestamp": iso(get("created_at")), "status": get("status"),
    }


async def send_message(org_id, actor_id, lead_id, content: str, sender: str) -> dict:
    lead = await Lead.get_for_org(org_id, lead_id, "Lead")
    now = utcnow()
    async with transaction():
        message = await Message.create(
            org_id=org_id, lead_id=lead.id, content=content, sender=sender,
            status="delivered", author_id=actor_id if sender != "lead" else None,
        )
        unread = 1 if sender == "lead" else 0
        updated = await Conversation.for_org(org_id).filter(lead_id=lead.id).update(
            last_message_id=message.id, last_message_at=message.created_at,
            unread_count=F("unread_count") + unread, status="active",
        )
        if not updated:
            await Conversation.create(org_id=org_id, lead_id=lead.id, last_message_id=message.id,
                                      last_message_at=message.created_at, unread_count=unread)
        # A message is contact: the lead's contacts (linked, or by email) were last contacted now.
        contacts = Q(lead_id=lead.id)
        if lead.email:
            contacts |= Q(email=lead.email)
        await Contact.for_org(org_id).filter(contacts).update(last_contact_date=now)
        body = message_json(message)
        event = "message.received" if sender == "lead" else "message.sent"
        await emit(org_id, event, {**{k: body[k] for k in ("id", "leadId", "content", "sender")},
                                   "actorId": str(actor_id) if actor_id and sender != "lead" else None})
    return body


async def read_messages(org_id, lead_id, page: Page) -> tuple[list[dict], int]:
    """The lead's messages, oldest first; reading them marks the lead's messages read."""
    lead = await Lead.get_for_org(org_id, lead_id, "Lead")
    query = Message.for_org(org_id).filter(lead_id=lead.id)
    rows, total = await page.fetch(query, "created_at",
                                   values=("id", "lead_id", "content", "sender", "created_at", "status"))
    async with transaction():
        marked = await query.filter(sender="lead").exclude(status="read").update(status="read", read_at=utcnow())
        if marked:
            await Conversation.for_org(org_id).filter(lead_id=lead.id).update(unread_count=0)
    return [message_json(row) for row in rows], total


async def list_conversations(org_id, page: Page, status: str | None = None) -> tuple[list[dict], int]:
    query = Conversation.for_org(org_id)
    if status:
        query = query.filter(status=status)
    rows, total = await page.fetch(query, "-last_message_at",
                                   values=("id", "lead_id", "status", "unread_count", "last_message_id"))
    names = dict(await Lead.for_org(org_id).filter(id__in=[r["lead_id"] for r in rows]).values_list("id", "name"))
    last = {m["id"]: m for m in await Message.for_org(org_id).filter(
        id__in=[r["last_message_id"] for r in rows if r["last_message_id"]]
    ).values("id", "content", "created_at", "sender")}
    conversations = []
    for row in rows:
        message = last.get(row["last_message_id"])
        conversations.append({
            "id": str(row["id"]), "leadId": str(row["lead_id"]), "leadName": names.get(row["lead_id"], ""),
            "lastMessage": {"content": message["content"], "timestamp": iso(message["created_at"]),
                            "sender": message["sender"]} if message else None,
            "unreadCount": row["unread_count"], "status": row["status"],
        })
    return conversations, total


# -- analytics -------------------------------------------------------------------------------------


def _month_start(moment: datetime, months_back: int = 0) -> datetime:
    year, month = moment.year, moment.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _growth(current: float, previous: float) -> float:
    """(current - previous) / previous; 0 when both are 0, 1.0 when only `previous` is 0."""
    if previous == 0:
        return 0.0 if current == 0 else 1.0
    return round((current - previous) / previous, 4)


async def dashboard(org_id) -> dict:
    """Seed 004 dashboard, every number an SQL aggregate over the organization's leads:

    summary.totalLeads      count(leads)
    summary.qualifiedLeads  count(leads with status qualified or converted)
    summary.conversionRate  count(converted) / totalLeads                  (0 without leads)
    summary.totalRevenue    sum(value of converted leads)
    summary.avgDealSize     totalRevenue / count(converted)                (0 without sales)
    trends.leadsThisMonth   count(leads created since the 1st of this month, UTC)
    trends.leadsGrowth      growth(leadsThisMonth, leads created last month)
    trends.revenueThisMonth sum(value of leads converted this month)
    trends.revenueGrowth    growth(revenueThisMonth, revenue converted last month)
    sourceBreakdown         per source: 100 * count(leads of source) / totalLeads, 1 decimal
    where growth(c, p) = (c - p) / p, 0 when both are 0 and 1.0 when only p is 0.
    """
    leads = Lead.for_org(org_id)
    by_status = dict(await leads.annotate(n=Count("id")).group_by("status").values_list("status", "n"))
    total = sum(by_status.values())
    converted = by_status.get("converted", 0)
    revenue = (await leads.filter(status="converted").annotate(s=Sum("value")).first().values_list("s", flat=True)) or 0
    now = utcnow()
    this_month, last_month = _month_start(now), _month_start(now, 1)
    leads_this = await leads.filter(created_at__gte=this_month).count()
    leads_last = await leads.filter(created_at__gte=last_month, created_at__lt=this_month).count()

    async def revenue_between(start, end=None) -> float:
        query = leads.filter(status="converted", converted_at__gte=start)
        if end is not None:
            query = query.filter(converted_at__lt=end)
        return (await query.annotate(s=Sum("value")).first().values_list("s", flat=True)) or 0

    revenue_this = await revenue_between(this_month)
    revenue_last = await revenue_between(last_month, this_month)
    sources = await leads.annotate(n=Count("id")).group_by("source").values_list("source", "n")
    return {
        "summary": {
            "totalLeads": total,
            "qualifiedLeads": sum(by_status.get(s, 0) for s in QUALIFIED_OR_BETTER),
            "conversionRate": round(converted / total, 4) if total else 0,
            "totalRevenue": round(float(revenue), 2),
            "avgDealSize": round(float(revenue) / converted, 2) if converted else 0,
        },
        "trends": {
            "leadsThisMonth": leads_this,
            "leadsGrowth": _growth(leads_this, leads_last),
            "revenueThisMonth": round(float(revenue_this), 2),
            "revenueGrowth": _growth(float(revenue_this), float(revenue_last)),
        },
        "sourceBreakdown": {source: round(100 * n / total, 1) for source, n in sorted(sources)} if total else {},
    }
