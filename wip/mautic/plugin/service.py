"""The Mautic-compatible marketing domain without HTTP: contacts (de-duplicated on email),
do-not-contact, segments (static and filter-based, recomputed when a contact changes), emails
(tokens, tracking, sent through the messaging plugin's `send_email` hub function) and the link
with the CRM (the crm plugin's `upsert_contact` hub function one way, its contact events the
other). Campaigns are in campaigns.py."""

from __future__ import annotations

import html as html_lib
import logging
import re
import secrets
from typing import Any
from urllib.parse import quote

from core import (
    HubError,
    Principal,
    call_function,
    current_hub,
    emit,
    not_found,
    transaction,
    utcnow,
)
from plugins.integrations.mautic.models import (
    MauticCampaign,
    MauticContact,
    MauticDoNotContact,
    MauticEmail,
    MauticEmailStat,
    MauticSegment,
    MauticSegmentMember,
)
from plugins.integrations.mautic.schemas import FIELD_MAX, FIELDS, READ_ONLY_FIELDS

log = logging.getLogger(__name__)

COLUMNS = ("email", "firstname", "lastname", "company")
DNC_UNSUBSCRIBED, DNC_BOUNCED, DNC_MANUAL = 1, 2, 3


def mautic_error(status: int, message: str, details: Any = None) -> HubError:
    """A HubError that the plugin's error handler answers in Mautic's shape with this status."""
    code = {400: "VALIDATION_ERROR", 401: "AUTHENTICATION_FAILED", 403: "FORBIDDEN", 404: "NOT_FOUND",
            409: "CONFLICT"}.get(status, "VALIDATION_ERROR")
    return HubError(code, message, {"mautic": details if details is not None else []})


def not_found_item() -> HubError:
    return mautic_error(404, "Item was not found.")


async def get_row(model: Any, org_id: Any, object_id: Any) -> Any:
    """The row with this integer id in this organization, or Mautic's 404 (also for another
    organization's id and for ids that are not integers)."""
    try:
        number = int(str(object_id))
    except ValueError:
        raise not_found_item() from None
    if number <= 0 or number > 2**31 - 1:
        raise not_found_item()
    row = await model.for_org(org_id).filter(id=number).first()
    if row is None:
        raise not_found_item()
    return row


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- contacts --------------------------------------------------------------------------------------


def _clean_value(alias: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise mautic_error(400, f"{alias}: This value is not valid.", {alias: ["This value is not valid."]})
    text = str(value).strip()
    if len(text) > (255 if alias in COLUMNS else FIELD_MAX):  # the searched ones are columns of 255
        raise mautic_error(400, f"{alias}: This value is too long.", {alias: ["This value is too long."]})
    if alias == "email":
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
            raise mautic_error(400, "email: A valid email is required.", {"email": ["A valid email is required."]})
        return text.lower()
    if alias in ("points", "attribution"):
        try:
            return int(float(text))
        except ValueError:
            raise mautic_error(400, f"{alias}: This value is not valid.", {alias: ["This value is not valid."]}) \
                from None
    return text


def field_values(params: dict) -> dict:
    """The contact fields a request gives (Mautic's field aliases at the top level; other
    keys are ignored, as Mautic's forms allow extra fields)."""
    return {alias: _clean_value(alias, params[alias]) for alias in FIELDS
            if alias in params and alias not in READ_ONLY_FIELDS}


def tag_changes(value: Any) -> tuple[list[str], list[str]]:
    """Mautic's `tags`: a list or a comma-separated string; "-name" removes a tag."""
    if value is None:
        return [], []
    items = value if isinstance(value, list) else str(value).split(",")
    add, remove = [], []
    for item in items:
        if isinstance(item, dict):
            item = item.get("tag", "")
        name = str(item).strip()[:255]
        if not name:
            continue
        (remove if name.startswith("-") else add).append(name.lstrip("-").strip())
    return add, remove


def apply_tags(contact: MauticContact, add: list[str], remove: list[str]) -> bool:
    tags = [tag for tag in contact.tags if tag not in remove]
    tags += [tag for tag in dict.fromkeys(add) if tag not in tags]
    changed = tags != contact.tags
    contact.tags = tags
    return changed


def _apply_fields(contact: MauticContact, values: dict, replace: bool) -> None:
    merged = {} if replace else dict(contact.values)
    merged.update(values)
    contact.values = {alias: value for alias, value in merged.items() if value is not None}
    for column in COLUMNS:
        setattr(contact, column, contact.values.get(column))


async def find_duplicate(org_id: Any, values: dict) -> MauticContact | None:
    email = values.get("email")
    if not email:
        return None
    return await MauticContact.for_org(org_id).filter(email=email).order_by("id").first()


async def save_contact(org_id: Any, params: dict, principal: Principal | None, *, contact: MauticContact | None = None,
                       replace: bool = False, dedupe: bool = True, crm_id: str | None = None,
                       sync_crm: bool = True) -> tuple[MauticContact, bool]:
    """Create or change a contact from Mautic request parameters. Without `contact`, a contact
    with the same email is updated instead of creating another (Mautic's de-duplication).
    Returns (contact, created)."""
    values = field_values(params)
    add_tags, remove_tags = tag_changes(params.get("tags"))
    if contact is None and dedupe:
        contact = await find_duplicate(org_id, values)
    elif contact is not None and values.get("email") and values["email"] != contact.email:
        other = await find_duplicate(org_id, values)
        if other is not None and other.id != contact.id:
            raise mautic_error(409, "A contact with this email already exists.",
                               {"email": ["A contact with this email already exists."]})
    created = contact is None
    async with transaction():
        if created:
            contact = MauticContact(org_id=org_id, values={}, tags=[], points=0,
                                    created_by=principal.user_id if principal else None,
                                    created_by_name=principal.email if principal else None, crm_id=crm_id)
        _apply_fields(contact, values, replace and not created)
        if "points" in params and created:
            contact.points = _clean_value("points", params["points"]) or 0
        if "lastActive" in params or "last_active" in params:
            contact.last_active = utcnow()
        apply_tags(contact, add_tags, remove_tags)
        if crm_id and not contact.crm_id:
            contact.crm_id = crm_id
        await contact.save()
        entries = params.get("doNotContact") or []
        for index, entry in enumerate(entries.values() if isinstance(entries, dict) else entries):
            if isinstance(entry, dict):
                reason = int(entry.get("reason", DNC_MANUAL) or 0)
                channel = str(entry.get("channel") or "email")
                if len(channel) > 50:
                    raise mautic_error(400, "doNotContact: the channel is too long.",
                                       {f"doNotContact.{index}.channel": ["This value is too long."]})
                if reason == 0:
                    await remove_dnc(org_id, contact, channel)
                else:
                    await add_dnc(org_id, contact, channel, reason, entry.get("comments"))
        payload = {"id": contact.id, "email": contact.email, "firstname": contact.firstname,
                   "lastname": contact.lastname}
        await emit(org_id, "mautic.contact.created" if created else "mautic.contact.updated", payload)
    await contact_changed(org_id, contact)
    if sync_crm and principal is not None:
        await push_to_crm(contact, principal)
    return contact, created


async def delete_contact(org_id: Any, contact: MauticContact) -> None:
    from plugins.integrations.mautic.models import (
        MauticCampaignContact,
        MauticCampaignLog,
    )

    async with transaction():
        await MauticSegmentMember.for_org(org_id).filter(contact_id=contact.id).delete()
        await MauticDoNotContact.for_org(org_id).filter(contact_id=contact.id).delete()
        await MauticCampaignContact.for_org(org_id).filter(contact_id=contact.id).delete()
        await MauticCampaignLog.for_org(org_id).filter(contact_id=contact.id).delete()
        await contact.delete()


async def dnc_of(org_id: Any, contact_ids: list[int]) -> dict[int, list[MauticDoNotContact]]:
    rows = await MauticDoNotContact.for_org(org_id).filter(contact_id__in=contact_ids).order_by("id")
    result: dict[int, list[MauticDoNotContact]] = {}
    for row in rows:
        result.setdefault(row.contact_id, []).append(row)
    return result


async def add_dnc(org_id: Any, contact: MauticContact, channel: str, reason: int, comments: Any = None,
                  channel_id: int | None = None) -> None:
    channel = channel[:50]
    row = await MauticDoNotContact.for_org(org_id).filter(contact_id=contact.id, channel=channel).first()
    if row is None:
        await MauticDoNotContact.create(org_id=org_id, contact_id=contact.id, channel=channel, reason=reason,
                                        comments=str(comments)[:1000] if comments else None, channel_id=channel_id)
    else:
        row.reason, row.comments = reason, str(comments)[:1000] if comments else row.comments
        await row.save()


async def remove_dnc(org_id: Any, contact: MauticContact, channel: str) -> bool:
    return bool(await MauticDoNotContact.for_org(org_id).filter(contact_id=contact.id, channel=channel).delete())


async def adjust_points(org_id: Any, contact: MauticContact, operator: str, delta: Any) -> None:
    try:
        amount = int(float(str(delta)))
    except ValueError:
        raise mautic_error(400, "The points delta must be a number.") from None
    operations = {"plus": lambda p: p + amount, "minus": lambda p: p - amount, "times": lambda p: p * amount,
                  "divide": lambda p: p // amount if amount else None}
    if operator not in operations:
        raise mautic_error(400, f"Operator {operator} is not supported. Use plus, minus, times or divide.")
    points = operations[operator](contact.points)
    if points is None:
        raise mautic_error(400, "Cannot divide by zero.")
    contact.points = max(min(points, 2**31 - 1), -(2**31))
    await contact.save(update_fields=["points", "updated_at"])
    await contact_changed(org_id, contact)


# -- the CRM link ----------------------------------------------------------------------------------


def _name_of(contact: MauticContact) -> str:
    name = " ".join(part for part in (contact.firstname, contact.lastname) if part)
    return name or contact.email or f"Contact {contact.id}"


async def push_to_crm(contact: MauticContact, principal: Principal) -> None:
    """The contact in the CRM (source "mautic"), when the crm plugin is on and the caller may
    write CRM contacts; otherwise the contact stays in Mautic only."""
    args = {"name": _name_of(contact)[:200], "source": "mautic", "external_id": str(contact.id),
            "tags": contact.tags[:50]}
    if contact.email:
        args["email"] = contact.email
    phone = contact.values.get("phone") or contact.values.get("mobile")
    if phone:
        args["phone"] = str(phone)[:50]
    if contact.company:
        args["company"] = contact.company[:200]
    try:
        result = await call_function(current_hub(), principal, "upsert_contact", args)
    except HubError as error:  # crm off (NOT_FOUND), not allowed, or fields it refuses
        log.info("mautic contact %s not mirrored to the CRM: %s", contact.id, error.message)
        return
    crm_id = str(result.get("id")) if isinstance(result, dict) and result.get("id") else None
    if crm_id and contact.crm_id != crm_id:
        contact.crm_id = crm_id
        await MauticContact.filter(id=contact.id).update(crm_id=crm_id)


async def mirror_crm_contact(org_id: Any, data: dict) -> None:
    """A CRM contact (event contact.created / contact.updated) as a Mautic contact."""
    if data.get("source") == "mautic" or not data.get("id"):
        return
    crm_id = str(data["id"])
    email = (data.get("email") or "").strip().lower() or None
    contact = await MauticContact.for_org(org_id).filter(crm_id=crm_id).first()
    if contact is None and email:
        contact = await MauticContact.for_org(org_id).filter(email=email).order_by("id").first()
    first, _, last = (data.get("name") or "").strip().partition(" ")
    params: dict[str, Any] = {"firstname": first or None, "lastname": last or None}
    if email:
        params["email"] = email
    try:
        await save_contact(org_id, params, None, contact=contact, dedupe=contact is None, crm_id=crm_id,
                           sync_crm=False)
    except HubError as error:
        log.info("CRM contact %s not mirrored to Mautic: %s", crm_id, error.message)


# -- segments --------------------------------------------------------------------------------------


def _value_of(contact: MauticContact, field: str) -> Any:
    if field == "points":
        return contact.points
    if field == "tags":
        return contact.tags
    if field == "id":
        return contact.id
    return contact.values.get(field)


def _like(pattern: str, value: str) -> bool:
    if "%" not in pattern:
        pattern = f"%{pattern}%"
    regex = ".*".join(re.escape(part) for part in pattern.lower().split("%"))
    return re.fullmatch(regex, value.lower(), re.DOTALL) is not None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def filter_matches(contact: MauticContact, flt: dict) -> bool:
    field = str(flt.get("field") or "")
    operator = str(flt.get("operator") or "=")
    expected = flt.get("filter")
    if expected is None and isinstance(flt.get("properties"), dict):
        expected = flt["properties"].get("filter")
    value = _value_of(contact, field)
    if field == "tags" or isinstance(value, list):
        wanted = expected if isinstance(expected, list) else [expected] if expected not in (None, "") else []
        wanted = [str(item) for item in wanted]
        have = set(value or [])
        if operator in ("in", "="):
            return bool(have & set(wanted))
        if operator in ("!in", "!="):
            return not (have & set(wanted))
        if operator == "empty":
            return not have
        if operator == "!empty":
            return bool(have)
        return False
    text = "" if value is None else str(value)
    target = "" if expected is None else str(expected)
    if operator == "empty":
        return text == ""
    if operator == "!empty":
        return text != ""
    if operator == "=":
        return text.lower() == target.lower()
    if operator in ("!=", "neq"):
        return text.lower() != target.lower()
    if operator == "like":
        return _like(target, text)
    if operator == "!like":
        return not _like(target, text)
    if operator in ("contains",):
        return target.lower() in text.lower()
    if operator == "startsWith":
        return text.lower().startswith(target.lower())
    if operator == "endsWith":
        return text.lower().endswith(target.lower())
    if operator in ("in", "!in"):
        options = expected if isinstance(expected, list) else str(expected or "").split(",")
        inside = text.lower() in [str(option).strip().lower() for option in options]
        return inside if operator == "in" else not inside
    if operator in ("gt", "gte", "lt", "lte"):
        left, right = _number(value), _number(expected)
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[operator]
    if operator == "regexp":
        try:
            return re.search(target, text) is not None
        except re.error:
            return False
    return False


OPERATORS = ("=", "!=", "neq", "like", "!like", "contains", "startsWith", "endsWith", "empty", "!empty", "in", "!in",
             "gt", "gte", "lt", "lte", "regexp")


def check_filters(filters: Any) -> list[dict]:
    if filters in (None, "", []):
        return []
    if isinstance(filters, dict):  # a form-encoded list arrives as {"0": {...}, "1": {...}}
        filters = [filters[key] for key in sorted(filters, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if not isinstance(filters, list) or len(filters) > 50:
        raise mautic_error(400, "filters: This value is not valid.", {"filters": ["This value is not valid."]})
    cleaned = []
    for index, flt in enumerate(filters):
        if not isinstance(flt, dict) or not flt.get("field"):
            raise mautic_error(400, f"filters: filter {index} needs a field.", {"filters": [f"filter {index} needs a field"]})
        operator = str(flt.get("operator") or "=")
        if operator not in OPERATORS:
            raise mautic_error(400, f"filters: operator {operator} is not supported.",
                               {"filters": [f"operator {operator} is not supported"]})
        for name, longest in (("field", 191), ("object", 20), ("type", 50), ("display", 191)):
            if len(str(flt.get(name) or "")) > longest:
                raise mautic_error(400, f"filters: filter {index}'s {name} is too long.",
                                   {f"filters.{index}.{name}": ["This value is too long."]})
        value = flt.get("filter")
        if value is None and isinstance(flt.get("properties"), dict):
            value = flt["properties"].get("filter")
        cleaned.append({"glue": "or" if str(flt.get("glue", "and")).lower() == "or" else "and",
                        "field": str(flt["field"]), "object": str(flt.get("object") or "lead"),
                        "type": str(flt.get("type") or "text"), "operator": operator, "filter": value,
                        "display": flt.get("display"), "properties": {"filter": value}})
    return cleaned


def segment_matches(contact: MauticContact, filters: list[dict]) -> bool:
    """Mautic's glue: filters joined by "and" bind tighter than "or"."""
    if not filters:
        return False
    groups: list[list[dict]] = [[]]
    for index, flt in enumerate(filters):
        if index and flt.get("glue") == "or":
            groups.append([])
        groups[-1].append(flt)
    return any(all(filter_matches(contact, flt) for flt in group) for group in groups if group)


async def recompute_segment(org_id: Any, segment: MauticSegment) -> list[int]:
    """Bring a filter segment's members in line with its filters; returns the contacts added."""
    if not segment.filters:
        return []
    members = {row.contact_id: row for row in await MauticSegmentMember.for_org(org_id).filter(segment_id=segment.id)}
    added = []
    async for contact in MauticContact.for_org(org_id).all():
        added += await _place(org_id, segment, contact, members.get(contact.id))
    return added


async def _place(org_id: Any, segment: MauticSegment, contact: MauticContact,
                 row: MauticSegmentMember | None) -> list[int]:
    if row is not None and (row.manually_added or row.manually_removed):
        return []
    matches = segment.is_published and segment_matches(contact, segment.filters)
    if matches and row is None:
        await MauticSegmentMember.get_or_create(org_id=org_id, segment_id=segment.id, contact_id=contact.id)
        return [contact.id]
    if not matches and row is not None:
        await row.delete()
    return []


async def contact_changed(org_id: Any, contact: MauticContact) -> None:
    """A contact's fields, tags or points changed: its filter segments follow, and campaigns
    of the segments it joined take it in."""
    joined: list[int] = []
    segments = await MauticSegment.for_org(org_id).all()
    rows = {row.segment_id: row for row in await MauticSegmentMember.for_org(org_id).filter(contact_id=contact.id)}
    for segment in segments:
        if segment.filters and await _place(org_id, segment, contact, rows.get(segment.id)):
            joined.append(segment.id)
    if joined:
        await segments_grew(org_id, joined)


async def segments_grew(org_id: Any, segment_ids: list[int]) -> None:
    from plugins.integrations.mautic.campaigns import start_campaigns_of_segments

    await start_campaigns_of_segments(org_id, segment_ids)


async def segment_contact_ids(org_id: Any, segment_ids: list[int]) -> list[int]:
    rows = await MauticSegmentMember.for_org(org_id).filter(segment_id__in=segment_ids, manually_removed=False) \
        .order_by("contact_id").values_list("contact_id", flat=True)
    return list(dict.fromkeys(rows))


async def segments_by_id(org_id: Any, ids: list[int]) -> list[MauticSegment]:
    if not ids:
        return []
    rows = {row.id: row for row in await MauticSegment.for_org(org_id).filter(id__in=ids)}
    return [rows[i] for i in ids if i in rows]


async def check_segment_ids(org_id: Any, value: Any) -> list[int]:
    """Mautic's `lists`: segment ids (a list, a dict from a form, or one id), all of this
    organization (an unknown one is a 400)."""
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = [value]
    ids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("id")
        try:
            ids.append(int(str(item)))
        except ValueError:
            raise mautic_error(400, "lists: This value is not valid.", {"lists": ["This value is not valid."]}) \
                from None
    ids = list(dict.fromkeys(ids))
    found = {row.id for row in await segments_by_id(org_id, ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise mautic_error(400, f"lists: Segment {missing[0]} was not found.",
                           {"lists": [f"Segment {missing[0]} was not found."]})
    return ids


# -- emails ----------------------------------------------------------------------------------------

TOKEN = re.compile(r"\{contactfield=([a-zA-Z0-9_]+)(?:\|([^}]*))?\}")
LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s<>]+)\2""", re.IGNORECASE)


def render(text: str | None, contact: MauticContact, tokens: dict[str, str], *, escape: bool) -> str | None:
    """{contactfield=alias} (or {contactfield=alias|default}) and the caller's own {tokens}."""
    if text is None:
        return None

    def field(match: re.Match) -> str:
        value = _value_of(contact, match.group(1))
        if match.group(1) == "email":
            value = contact.email
        if value in (None, "", []):
            value = match.group(2) or ""
        value = ", ".join(value) if isinstance(value, list) else str(value)
        return html_lib.escape(value) if escape else value

    text = TOKEN.sub(field, text)
    for token, value in tokens.items():
        text = text.replace(token, html_lib.escape(value) if escape else value)
    return text


def clean_tokens(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    result = {}
    for token, value in list(raw.items())[:100]:
        token = str(token)[:100]
        if not re.fullmatch(r"\{.*?\}", token):
            token = "{" + token + "}"
        result[token] = "" if value is None else str(value)[:10_000]
    return result


def tracked(html: str, base: str, tracking_hash: str) -> tuple[str, list[str]]:
    """The email's links through the click redirect and its open pixel; returns the html and
    the links (the only targets that redirect will go to)."""
    urls: list[str] = []

    def link(match: re.Match) -> str:
        url = html_lib.unescape(match.group(3))
        if "/mautic/email/unsubscribe/" in url:
            return match.group(0)
        if url not in urls:
            urls.append(url)
        target = f"{base}/mautic/r/{tracking_hash}?url={quote(url, safe='')}"
        return f"{match.group(1)}{match.group(2)}{html_lib.escape(target)}{match.group(2)}"

    html = LINK.sub(link, html)
    pixel = f'<img height="1" width="1" src="{base}/mautic/email/{tracking_hash}.gif" alt="" />'
    html = html.replace("</body>", pixel + "</body>") if "</body>" in html else html + pixel
    return html, urls


async def has_dnc(org_id: Any, contact_id: int, channel: str = "email") -> MauticDoNotContact | None:
    return await MauticDoNotContact.for_org(org_id).filter(contact_id=contact_id, channel=channel).first()


async def send_to_contact(org_id: Any, email: MauticEmail, contact: MauticContact, principal: Principal, base: str,
                          tokens: dict[str, str] | None = None, *, campaign_id: int | None = None,
                          event_id: int | None = None) -> tuple[bool, str | None]:
    """Render and queue `email` for `contact` through the messaging plugin. Returns (sent,
    why not). A contact without an email, or marked do-not-contact for email (unsubscribed,
    bounced or by hand), gets nothing."""
    if not contact.email:
        return False, "The contact has no email address."
    dnc = await has_dnc(org_id, contact.id)
    if dnc is not None:
        return False, f"{contact.email}: the contact is marked do-not-contact for email (reason {dnc.reason})."
    tokens = dict(tokens or {})
    tracking_hash = secrets.token_hex(16)
    tokens.setdefault("{unsubscribe_url}", f"{base}/mautic/email/unsubscribe/{tracking_hash}")
    tokens.setdefault("{tracking_pixel}", "")
    subject = render(email.subject, contact, tokens, escape=False) or email.name
    subject = " ".join(subject.split())[:998]
    html = render(email.custom_html, contact, tokens, escape=True)
    text = render(email.plain_text, contact, tokens, escape=False)
    urls: list[str] = []
    if html:
        html, urls = tracked(html, base, tracking_hash)
    if not html and not text:
        return False, "The email has no content."
    content = {key: value for key, value in (("html", html), ("text", text)) if value}
    args: dict[str, Any] = {"to": [contact.email], "subject": subject, "content": content}
    if email.from_address:
        args["from"] = email.from_address
    if email.reply_to_address:
        args["reply_to"] = email.reply_to_address
    try:
        queued = await call_function(current_hub(), principal, "send_email", args)
    except HubError as error:
        if error.code == "NOT_FOUND":
            return False, "Emails are sent by the messaging plugin, which is off."
        reason = (error.details or {}).get("reason")
        return False, f"{error.message}: {reason}" if reason else error.message
    async with transaction():
        stat = await MauticEmailStat.create(
            org_id=org_id, email_id=email.id, contact_id=contact.id, email_address=contact.email,
            tracking_hash=tracking_hash, urls=urls, message_id=str(queued.get("id") or queued.get("message_id") or "")[:64]
            or None, campaign_id=campaign_id, event_id=event_id)
        await MauticEmail.filter(id=email.id).update(sent_count=email.sent_count + 1)
        email.sent_count += 1
        await emit(org_id, "mautic.email.sent", {"email_id": email.id, "contact_id": contact.id, "stat_id": stat.id})
    return True, None


async def send_to_segments(org_id: Any, email: MauticEmail, principal: Principal, base: str,
                           segment_ids: list[int] | None = None, limit: int | None = None) -> tuple[int, int]:
    """A segment email to the contacts of its segments (or of `segment_ids`, which must be
    among them) that have not had it yet and are not do-not-contact. Returns (sent, failed)."""
    chosen = [i for i in (segment_ids or email.segment_ids) if i in email.segment_ids]
    contact_ids = await segment_contact_ids(org_id, chosen)
    already = set(await MauticEmailStat.for_org(org_id).filter(email_id=email.id, contact_id__in=contact_ids)
                  .values_list("contact_id", flat=True)) if contact_ids else set()
    blocked = set(await MauticDoNotContact.for_org(org_id).filter(contact_id__in=contact_ids, channel="email")
                  .values_list("contact_id", flat=True)) if contact_ids else set()
    pending = [i for i in contact_ids if i not in already and i not in blocked]
    if limit:
        pending = pending[:limit]
    sent = failed = 0
    for contact in await MauticContact.for_org(org_id).filter(id__in=pending).order_by("id"):
        ok, _ = await send_to_contact(org_id, email, contact, principal, base)
        sent, failed = sent + ok, failed + (not ok)
    return sent, failed


async def opened(tracking_hash: str) -> None:
    """The open pixel was loaded: the stat is read, the email's read count and the contact's
    last activity move, and campaigns waiting on the open go on."""
    stat = await MauticEmailStat.filter(tracking_hash=tracking_hash).first()
    if stat is None:
        return
    first = not stat.is_read
    stat.open_count += 1
    if first:
        stat.is_read, stat.read_at = True, utcnow()
    await stat.save()
    await MauticContact.filter(id=stat.contact_id, org_id=stat.org_id).update(last_active=utcnow())
    if first:
        email = await MauticEmail.filter(id=stat.email_id, org_id=stat.org_id).first()
        if email is not None:
            await MauticEmail.filter(id=email.id).update(read_count=email.read_count + 1)
        await emit(stat.org_id, "mautic.email.opened",
                   {"email_id": stat.email_id, "contact_id": stat.contact_id, "stat_id": stat.id})
        from plugins.integrations.mautic.campaigns import email_opened

        await email_opened(stat)


async def clicked(tracking_hash: str, url: str) -> str:
    """The target of a tracked link, only if it was one of the email's links (else a 404)."""
    stat = await MauticEmailStat.filter(tracking_hash=tracking_hash).first()
    if stat is None or url not in stat.urls:
        raise not_found("Redirect")
    await MauticEmailStat.filter(id=stat.id).update(click_count=stat.click_count + 1)
    email = await MauticEmail.filter(id=stat.email_id, org_id=stat.org_id).first()
    if email is not None:
        await MauticEmail.filter(id=email.id).update(click_count=email.click_count + 1)
    await MauticContact.filter(id=stat.contact_id, org_id=stat.org_id).update(last_active=utcnow())
    if not stat.is_read:  # a click proves the open
        await opened(tracking_hash)
    return url


async def unsubscribe(tracking_hash: str) -> bool:
    stat = await MauticEmailStat.filter(tracking_hash=tracking_hash).first()
    if stat is None:
        return False
    contact = await MauticContact.filter(id=stat.contact_id, org_id=stat.org_id).first()
    if contact is None:
        return False
    await add_dnc(stat.org_id, contact, "email", DNC_UNSUBSCRIBED, "Unsubscribed by the contact",
                  channel_id=stat.email_id)
    return True


async def campaign_owner(org_id: Any, campaign: MauticCampaign) -> Principal | None:
    from core import principal_for_user

    if campaign.created_by is None:
        return None
    return await principal_for_user(campaign.created_by, org_id)
