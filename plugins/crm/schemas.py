"""Request and response models of the CRM (seed 004 camelCase, seed 000 companies)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from core import CamelModel, SnakeModel, Timestamp
from plugins.crm.models import LEAD_STATUSES

LeadStatus = Literal["new", "contacted", "qualified", "converted", "lost"]
Sender = Literal["lead", "agent", "user"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()./-]{3,32}$")]
# the pattern is checked before to_lower: it must admit capitals for "Website" to become "website"
Source = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
Money = Annotated[float, Field(ge=0, le=1e12)]


def _not_null(value):
    """An update may leave a required field out, but not set it to null (a 400, not a 500)."""
    if value is None:
        raise ValueError("may not be null")
    return value


# -- leads ---------------------------------------------------------------------------------------


class LeadCreate(CamelModel):
    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: str | None = None
    status: LeadStatus = "new"
    source: Source = "other"
    value: Money = 0
    notes: Notes | None = None


class LeadUpdate(CamelModel):
    name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: str | None = None
    status: LeadStatus | None = None
    source: Source | None = None
    value: Money | None = None
    notes: Notes | None = None

    _required = field_validator("name", "status", "source", "value", mode="before")(_not_null)


class LeadOut(CamelModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    company_id: str | None
    status: LeadStatus
    source: str
    value: float
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class PaginationOut(CamelModel):
    limit: int
    offset: int
    has_more: bool


class LeadList(CamelModel):
    leads: list[LeadOut]
    total: int
    pagination: PaginationOut


# -- contacts ------------------------------------------------------------------------------------


class ContactCreate(CamelModel):
    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: str | None = None
    position: ShortText | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    status: Literal["active", "inactive"] = "active"
    notes: Notes | None = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))


class ContactUpdate(ContactCreate):
    name: Name | None = None  # type: ignore[assignment]
    tags: list[Tag] | None = Field(default=None, max_length=50)  # type: ignore[assignment]
    status: Literal["active", "inactive"] | None = None  # type: ignore[assignment]

    _required = field_validator("name", "tags", "status", mode="before")(_not_null)


class ContactOut(CamelModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    company_id: str | None
    position: str | None
    tags: list[str]
    last_contact_date: Timestamp | None
    status: str
    notes: str | None
    created_at: Timestamp


class ContactList(CamelModel):
    contacts: list[ContactOut]
    total: int
    pagination: PaginationOut


# -- companies -----------------------------------------------------------------------------------


class CompanyCreate(CamelModel):
    name: Name
    domain: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                             pattern=r"^[A-Za-z0-9.-]{1,253}$")] | None = None
    industry: ShortText | None = None
    size: Annotated[str, StringConstraints(max_length=32)] | None = None
    notes: Notes | None = None


class CompanyUpdate(CompanyCreate):
    name: Name | None = None  # type: ignore[assignment]

    _required = field_validator("name", mode="before")(_not_null)


class CompanyOut(CamelModel):
    id: str
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    notes: str | None
    lead_count: int = 0
    contact_count: int = 0
    created_at: Timestamp
    updated_at: Timestamp


class CompanyList(CamelModel):
    companies: list[CompanyOut]
    total: int
    pagination: PaginationOut


# -- messages ------------------------------------------------------------------------------------


class MessageCreate(CamelModel):
    lead_id: str
    content: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    sender: Sender = "user"


class MessageOut(CamelModel):
    id: str
    lead_id: str
    content: str
    sender: Sender
    timestamp: Timestamp
    status: str


class MessageList(CamelModel):
    messages: list[MessageOut]
    total: int
    pagination: PaginationOut


class LastMessage(CamelModel):
    content: str
    timestamp: Timestamp
    sender: Sender


class ConversationOut(CamelModel):
    id: str
    lead_id: str
    lead_name: str
    last_message: LastMessage | None
    unread_count: int
    status: str


class ConversationList(CamelModel):
    conversations: list[ConversationOut]
    total: int
    pagination: PaginationOut


assert set(LEAD_STATUSES) == set(LeadStatus.__args__)  # one list of statuses


# -- events (hub_event_types; seed 004 "WebSocket Events" shapes plus a few fields) ---------------


class LeadCreated(CamelModel):
    id: str
    name: str
    email: str | None = None
    source: str
    status: LeadStatus
    value: float
    company: str | None = None
    actor_id: str | None = None


class LeadUpdated(CamelModel):
    id: str
    name: str
    status: LeadStatus
    previous_status: LeadStatus
    source: str
    value: float
    changes: list[str]
    actor_id: str | None = None


class LeadDeleted(CamelModel):
    id: str
    name: str


class MetricsUpdate(CamelModel):
    metric: str
    value: float
    change: str
    change_type: Literal["increase", "decrease", "unchanged"]


class ContactCreated(CamelModel):
    id: str
    name: str
    email: str | None = None


class MessageEvent(CamelModel):
    id: str
    lead_id: str
    content: str
    sender: Sender
    actor_id: str | None = None


class AchievementUnlocked(SnakeModel):
    code: str
    title: str
    points: int
    user_id: str  # delivered to that member only


class NotificationCreated(SnakeModel):
    type: str
    title: str
    message: str
    data: dict
    user_id: str  # delivered to that member only


EVENT_TYPES = (
    ("lead.created", LeadCreated, "A lead was created (by a member, an API key or an agent)", "crm.leads.read", "004"),
    ("lead.updated", LeadUpdated, "A lead's fields or status changed", "crm.leads.read", None),
    ("lead.deleted", LeadDeleted, "A lead and its messages were deleted", "crm.leads.read", None),
    ("metrics.update", MetricsUpdate, "Leads created today changed (seed 004 live dashboard metric)",
     "crm.analytics.read", "004"),
    ("contact.created", ContactCreated, "A contact was created", "crm.contacts.read", None),
    ("message.received", MessageEvent, "A lead sent a message", "crm.messages.read", "004"),
    ("message.sent", MessageEvent, "A member or agent sent a message to a lead", "crm.messages.read", None),
    ("achievement.unlocked", AchievementUnlocked, "A member unlocked an achievement", "crm.achievements.read", None),
    ("notification.created", NotificationCreated, "A notification for one member (an unlocked achievement)",
     None, None),
)
