"""Mautic's JSON shapes: the contact fields and how contacts, segments, emails and campaigns
are serialized (as Mautic's API serializes them), and the payloads of the events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from core import Blankable, CamelModel, Query, iso

# Mautic's default contact fields: alias -> (label, type, group)
FIELDS: dict[str, tuple[str, str, str]] = {
    "title": ("Title", "lookup", "core"),
    "firstname": ("First Name", "text", "core"),
    "lastname": ("Last Name", "text", "core"),
    "company": ("Primary company", "text", "core"),
    "position": ("Position", "text", "core"),
    "email": ("Email", "email", "core"),
    "mobile": ("Mobile", "tel", "core"),
    "phone": ("Phone", "tel", "core"),
    "points": ("Points", "number", "core"),
    "fax": ("Fax", "tel", "core"),
    "address1": ("Address Line 1", "text", "core"),
    "address2": ("Address Line 2", "text", "core"),
    "city": ("City", "text", "core"),
    "state": ("State", "region", "core"),
    "zipcode": ("Zip Code", "text", "core"),
    "country": ("Country", "country", "core"),
    "preferred_locale": ("Preferred Locale", "locale", "core"),
    "timezone": ("Preferred Timezone", "timezone", "core"),
    "last_active": ("Date Last Active", "datetime", "core"),
    "attribution_date": ("Attribution Date", "datetime", "core"),
    "attribution": ("Attribution", "number", "core"),
    "website": ("Website", "url", "core"),
    "facebook": ("Facebook", "text", "social"),
    "foursquare": ("Foursquare", "text", "social"),
    "instagram": ("Instagram", "text", "social"),
    "linkedin": ("LinkedIn", "text", "social"),
    "skype": ("Skype", "text", "social"),
    "twitter": ("Twitter", "text", "social"),
}
GROUPS = ("core", "social", "personal", "professional")
FIELD_MAX = 65_535  # a field value's characters
READ_ONLY_FIELDS = {"points", "last_active"}  # changed by their own endpoints / activity


def contact_json(contact: Any, dnc: list[Any] | None = None) -> dict:
    values = {alias: contact.values.get(alias) for alias in FIELDS}
    values["points"] = contact.points
    values["last_active"] = iso(contact.last_active) if contact.last_active else None
    fields: dict[str, Any] = {group: {} for group in GROUPS}
    for index, (alias, (label, kind, group)) in enumerate(FIELDS.items(), start=1):
        fields[group][alias] = {"id": str(index), "label": label, "alias": alias, "type": kind, "group": group,
                                "object": "lead", "is_fixed": "1", "default_value": None, "value": values[alias]}
    for group in GROUPS:
        if not fields[group]:
            fields[group] = []  # PHP's empty array
    fields["all"] = {"id": contact.id, **values}
    return {
        "id": contact.id,
        "isPublished": True,
        "dateAdded": iso(contact.created_at),
        "dateModified": iso(contact.updated_at),
        "createdBy": None,
        "createdByUser": contact.created_by_name,
        "modifiedBy": None,
        "modifiedByUser": None,
        "owner": None,
        "points": contact.points,
        "lastActive": values["last_active"],
        "dateIdentified": iso(contact.created_at),
        "color": None,
        "ipAddresses": [],
        "tags": [{"id": _tag_id(tag), "tag": tag} for tag in contact.tags],
        "utmtags": [],
        "stage": None,
        "doNotContact": [dnc_json(row) for row in dnc or []],
        "frequencyRules": [],
        "fields": fields,
    }


def _tag_id(tag: str) -> int:
    # a stable small integer per tag name (tags are names in Hub; Mautic clients show an id)
    import zlib

    return zlib.crc32(tag.encode()) & 0x7FFFFFFF


def dnc_json(row: Any) -> dict:
    return {"id": row.id, "reason": row.reason, "comments": row.comments or "", "channel": row.channel,
            "channelId": row.channel_id, "dateAdded": iso(row.created_at)}


def segment_json(segment: Any) -> dict:
    return {
        "id": segment.id,
        "isPublished": segment.is_published,
        "dateAdded": iso(segment.created_at),
        "dateModified": iso(segment.updated_at),
        "createdBy": None,
        "createdByUser": segment.created_by_name,
        "modifiedBy": None,
        "modifiedByUser": None,
        "category": None,
        "name": segment.name,
        "publicName": segment.name,
        "alias": segment.alias,
        "description": segment.description,
        "filters": segment.filters,
        "isGlobal": segment.is_global,
        "isPreferenceCenter": False,
    }


def segment_ref(segment: Any) -> dict:
    return {"id": segment.id, "name": segment.name, "alias": segment.alias, "createdByUser": segment.created_by_name}


def email_json(email: Any, segments: list[Any]) -> dict:
    return {
        "id": email.id,
        "isPublished": email.is_published,
        "dateAdded": iso(email.created_at),
        "dateModified": iso(email.updated_at),
        "createdBy": None,
        "createdByUser": email.created_by_name,
        "modifiedBy": None,
        "modifiedByUser": None,
        "name": email.name,
        "subject": email.subject,
        "language": "en",
        "category": None,
        "fromAddress": email.from_address,
        "fromName": email.from_name,
        "replyToAddress": email.reply_to_address,
        "bccAddress": None,
        "customHtml": email.custom_html,
        "plainText": email.plain_text,
        "template": None,
        "emailType": email.email_type,
        "publishUp": None,
        "publishDown": None,
        "readCount": email.read_count,
        "sentCount": email.sent_count,
        "revision": 1,
        "assetAttachments": [],
        "variantStartDate": None,
        "variantSentCount": 0,
        "variantReadCount": 0,
        "variantParent": None,
        "variantChildren": [],
        "translationParent": None,
        "translationChildren": [],
        "unsubscribeForm": None,
        "dynamicContent": [],
        "lists": [segment_ref(segment) for segment in segments],
    }


def event_json(event: Any, children: list[Any]) -> dict:
    return {
        "id": event.id,
        "name": event.name,
        "description": event.description,
        "type": event.type,
        "eventType": event.event_type,
        "channel": "email" if event.type.startswith("email.") else None,
        "channelId": event.properties.get("email") if event.type.startswith("email.") else None,
        "order": event.order,
        "properties": event.properties,
        "triggerDate": None,
        "triggerInterval": event.trigger_interval,
        "triggerIntervalUnit": event.trigger_interval_unit,
        "triggerMode": event.trigger_mode,
        "decisionPath": event.decision_path,
        "parent": {"id": event.parent_id} if event.parent_id else None,
        "children": [{"id": child.id} for child in children],
    }


def campaign_json(campaign: Any, events: list[Any], segments: list[Any]) -> dict:
    return {
        "id": campaign.id,
        "isPublished": campaign.is_published,
        "dateAdded": iso(campaign.created_at),
        "dateModified": iso(campaign.updated_at),
        "createdBy": None,
        "createdByUser": campaign.created_by_name,
        "modifiedBy": None,
        "modifiedByUser": None,
        "name": campaign.name,
        "category": None,
        "description": campaign.description,
        "allowRestart": False,
        "publishUp": None,
        "publishDown": None,
        "events": {str(event.id): event_json(event, [e for e in events if e.parent_id == event.id])
                   for event in events},
        "forms": [],
        "lists": [segment_ref(segment) for segment in segments],
        "canvasSettings": campaign.canvas_settings,
    }


def log_json(log: Any, event: Any | None) -> dict:
    return {
        "id": log.id,
        "campaign": {"id": log.campaign_id},
        "event": {"id": log.event_id, "name": event.name if event else None, "type": event.type if event else None,
                  "eventType": event.event_type if event else None},
        "contact": {"id": log.contact_id},
        "status": log.status,
        "isScheduled": log.status == "scheduled",
        "triggerDate": iso(log.trigger_at) if log.trigger_at else None,
        "dateTriggered": iso(log.triggered_at) if log.triggered_at else None,
        "nonActionPathTaken": bool(log.result and log.result.get("path") == "no"),
        "metadata": log.result or {},
    }


# -- events ----------------------------------------------------------------------------------------


class MauticContactEvent(CamelModel):
    id: int
    email: str | None = None
    firstname: str | None = None
    lastname: str | None = None


class MauticEmailEvent(CamelModel):
    email_id: int
    contact_id: int
    stat_id: int


EVENT_TYPES = (
    ("mautic.contact.created", MauticContactEvent, "A Mautic contact was created"),
    ("mautic.contact.updated", MauticContactEvent, "A Mautic contact's fields changed"),
    ("mautic.email.sent", MauticEmailEvent, "A Mautic email was queued for a contact"),
    ("mautic.email.opened", MauticEmailEvent, "A contact opened a Mautic email (its tracking pixel was loaded)"),
)


# -- the API's documented shapes (/openapi.json) ---------------------------------------------------
# Bodies come as JSON or as forms (PHP-style keys); Mautic's forms allow extra fields, so the
# models document what is read and allow the rest.


Short = Annotated[str, Field(max_length=255)]
Id = Annotated[int, Field(ge=0, le=2**31 - 1)]
Int = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Ids = Annotated[list[Id], Field(max_length=1000)]
Long = Annotated[str, Field(max_length=65_535)]


class ListQuery(Query):
    """Mautic's list parameters."""

    search: Blankable[str] = Field(None, max_length=1000, description="words, `field:value` (% wildcards), `!` negates")
    start: Blankable[int] = Field(None, ge=0, le=2**31 - 1, description="the offset of the first item")
    limit: Blankable[int] = Field(None, ge=0, le=100_000, description="items per page (0: the default; at most max_limit)")
    order_by: Blankable[str] = Field(None, alias="orderBy", max_length=100)
    order_by_dir: Blankable[Literal["ASC", "DESC", "asc", "desc"]] = Field(None, alias="orderByDir")
    published: Blankable[bool] = Field(None, description="only published items")
    published_only: Blankable[bool] = Field(None, alias="publishedOnly", description="only published items")
    minimal: Blankable[bool] = Field(None, description="accepted; the items are the same")


class PageQuery(Query):
    start: Blankable[int] = Field(None, ge=0, le=2**31 - 1)
    limit: Blankable[int] = Field(None, ge=0, le=100_000)


class IdsQuery(Query):
    ids: str = Field(max_length=10_000, description="the ids, comma-separated")


class RedirectQuery(Query):
    url: str = Field(max_length=4000, description="one of the email's links")


class Free(BaseModel):
    """Extra fields are accepted and ignored, as Mautic's forms do."""


class DncEntry(BaseModel):
    channel: str | None = Field(None, max_length=50)
    reason: int | None = Field(None, ge=0, le=3, description="0 contactable (lifts it), 1 unsubscribed, 2 bounced, 3 manual")
    comments: str | None = Field(None, max_length=1000)


class ContactBody(Free):
    """A contact's fields by alias (title, firstname, lastname, company, position, email,
    mobile, phone, fax, address1, address2, city, state, zipcode, country, preferred_locale,
    timezone, attribution_date, attribution, website, facebook, foursquare, instagram, linkedin,
    skype, twitter), `tags` ("-name" removes one), `points` (on creation), `doNotContact`,
    `lastActive`. JSON or form-encoded."""

    id: Id | None = None
    email: str | None = Field(None, max_length=255, json_schema_extra={"format": "email"})
    firstname: str | None = Field(None, max_length=255)
    lastname: str | None = Field(None, max_length=255)
    company: str | None = Field(None, max_length=255)
    position: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=255)
    mobile: str | None = Field(None, max_length=255)
    city: str | None = Field(None, max_length=255)
    country: str | None = Field(None, max_length=255)
    points: Int | None = None
    tags: Annotated[list[Short], Field(max_length=100)] | Short | None = None
    doNotContact: list[DncEntry] | None = Field(None, max_length=20)
    lastActive: str | None = Field(None, max_length=50)


class ContactBatchBody(RootModel[Annotated[list[ContactBody], Field(max_length=1000)]]):
    """Contacts to create or change (at most `batch_limit`)."""


class DncBody(Free):
    reason: int | None = Field(None, ge=0, le=3, description="1 unsubscribed, 2 bounced, 3 manual (default)")
    comments: str | None = Field(None, max_length=1000)
    channelId: Id | None = None


class NoBody(BaseModel):
    """No body is needed; any is ignored."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "x-bounded-by": "nothing of the body is read (whatever is sent is ignored; [http] max_body_bytes bounds it)"})


class PointsBody(Free):
    eventName: str | None = Field(None, max_length=255)
    actionName: str | None = Field(None, max_length=255)


class SegmentFilter(BaseModel):
    glue: Literal["and", "or"] | None = None
    field: str = Field(max_length=191)
    object: str | None = Field(None, max_length=20)
    type: str | None = Field(None, max_length=50)
    operator: Literal["=", "!=", "neq", "empty", "!empty", "like", "!like", "contains", "startsWith", "endsWith",
                      "in", "!in", "gt", "gte", "lt", "lte", "regexp"] = Field(
        description="the operators the Hub evaluates (Mautic's names)")
    filter: Short | Int | Annotated[float, Field(ge=-1e15, le=1e15)] | Annotated[list[Short], Field(max_length=100)] | None = None
    display: Short | None = None


class SegmentBody(Free):
    """A segment: without filters it is static (members by hand)."""

    name: str | None = Field(None, max_length=191)
    alias: str | None = Field(None, max_length=191)
    description: Long | None = None
    isPublished: bool | None = None
    isGlobal: bool | None = None
    filters: list[SegmentFilter] | None = Field(None, max_length=50)


class SegmentContactsBody(Free):
    ids: Ids


class EmailBody(Free):
    """An email: tokens `{contactfield=alias}` (or `{contactfield=alias|default}`) and
    `{unsubscribe_url}`; links are tracked, an open pixel is added."""

    name: str | None = Field(None, max_length=191)
    subject: str | None = Field(None, max_length=998)
    customHtml: str | None = Field(None, max_length=500_000)
    plainText: str | None = Field(None, max_length=500_000)
    emailType: Literal["template", "list"] | None = None
    lists: Ids | None = None
    isPublished: bool | None = None
    fromAddress: str | None = Field(None, max_length=255, json_schema_extra={"format": "email"})
    fromName: str | None = Field(None, max_length=255)
    replyToAddress: str | None = Field(None, max_length=255, json_schema_extra={"format": "email"})


class SendBody(Free):
    lists: Ids | None = None
    limit: Annotated[int, Field(ge=0, le=100_000)] | None = None


class SendToContactBody(Free):
    tokens: dict[str, Annotated[str, Field(max_length=10_000)]] | None = None


class EventBody(BaseModel):
    id: Id | Short | None = None
    name: str | None = Field(None, max_length=191)
    description: Long | None = None
    type: str = Field(max_length=50)
    eventType: Literal["action", "decision"] | None = None
    order: Annotated[int, Field(ge=0, le=1000)] | None = None
    properties: dict[str, Any] | None = Field(None, json_schema_extra={"x-bounded-by": (
        "only email (an email id), points (a number), add_tags and remove_tags (names) are read, each checked by "
        "campaigns.check_events; [http] max_body_bytes bounds the rest")})
    triggerMode: Literal["immediate", "interval"] | None = None
    triggerInterval: Annotated[int, Field(ge=0, le=10_000)] | None = None
    triggerIntervalUnit: Literal["i", "h", "d", "m", "y"] | None = None
    parent: Id | Short | None = None
    decisionPath: Literal["yes", "no"] | None = None


class CampaignBody(Free):
    """A campaign: `lists` (segment ids) and `events` (ids "new..." for new ones; `parent`
    names another event of the list)."""

    name: str | None = Field(None, max_length=191)
    description: Long | None = None
    isPublished: bool | None = None
    lists: Ids | None = None
    events: list[EventBody] | None = Field(None, max_length=100)
    canvasSettings: dict[str, Any] | None = Field(None, json_schema_extra={"x-bounded-by": (
        "kept as the client drew it and shown back, never interpreted; [http] max_body_bytes bounds it")})


class SegmentNew(SegmentBody):
    """A new segment: without filters it is static (members by hand)."""

    name: str = Field(min_length=1, max_length=191)


class EmailNew(EmailBody):
    """A new email: tokens `{contactfield=alias}` (or `{contactfield=alias|default}`) and
    `{unsubscribe_url}`; links are tracked, an open pixel is added."""

    name: str = Field(min_length=1, max_length=191)


class CampaignNew(CampaignBody):
    """A new campaign: `lists` (segment ids) and `events` (ids "new..." for new ones; `parent`
    names another event of the list)."""

    name: str = Field(min_length=1, max_length=191)


class TokenBody(BaseModel):
    """OAuth2 token request (form-encoded)."""

    grant_type: Literal["client_credentials", "refresh_token"]
    client_id: str = Field(max_length=255, description="the Hub API key's id")
    client_secret: str = Field(max_length=255, description="the Hub API key")
    refresh_token: str | None = Field(None, max_length=255)


class TokenOut(BaseModel):
    access_token: str
    expires_in: int
    token_type: str
    scope: str | None = None
    refresh_token: str


class ContactOut(BaseModel):
    contact: dict[str, Any]


class ContactsOut(BaseModel):
    total: int
    contacts: dict[str, dict[str, Any]]


class BatchOut(BaseModel):
    contacts: list[dict[str, Any]]
    statusCodes: list[int] | None = None
    errors: dict[str, dict[str, Any]] | None = None


class DncRemovedOut(ContactOut):
    recordFound: bool


class SuccessOut(BaseModel):
    success: int | bool
    failed: list[str] | None = None
    details: dict[str, dict[str, bool]] | None = None


class SendOut(BaseModel):
    success: int
    sentCount: int
    failedRecipients: int
    failedCount: int


class ListsOut(BaseModel):
    total: int
    lists: dict[str, dict[str, Any]]


class SegmentOut(BaseModel):
    list: dict[str, Any]


class FieldsOut(BaseModel):
    model_config = ConfigDict(extra="allow")


class CampaignsOfContactOut(BaseModel):
    total: int
    campaigns: dict[str, dict[str, Any]]


class EmailOut(BaseModel):
    email: dict[str, Any]


class EmailsOut(BaseModel):
    total: int
    emails: dict[str, dict[str, Any]]


class CampaignOut(BaseModel):
    campaign: dict[str, Any]


class CampaignsOut(BaseModel):
    total: int
    campaigns: dict[str, dict[str, Any]]


class CampaignContactsOut(BaseModel):
    total: int
    contacts: list[dict[str, Any]]


class EventLogOut(BaseModel):
    total: int
    events: list[dict[str, Any]]
