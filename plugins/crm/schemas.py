"""Request and response models of the CRM (seed 004 camelCase, seed 000 companies)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import EmailStr, Field, StringConstraints, field_validator

from core import Blankable, CamelCursorPagination, CamelModel, CommaSeparated, CursorQuery, SnakeModel, Timestamp
from plugins.crm.models import LEAD_STATUSES
from plugins.crm.service import CONTACT_SORTS, LEAD_SORTS

LeadStatus = Literal["new", "contacted", "qualified", "converted", "lost"]
Sender = Literal["lead", "agent", "user"]
# Each string fits its column (models.py; tests/security/test_schema_vs_columns.py checks it).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]  # industry, position
Email = Annotated[EmailStr, Field(max_length=254)]
# "+" and 32 more would be 33 characters: the column has 32
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^\+?[0-9 ()./-]{3,32}$")]
# the pattern is checked before to_lower: it must admit capitals for "Website" to become "website"
Source = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=32,
                                          pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Id = Annotated[str, StringConstraints(max_length=64)]  # a row's id (a UUID), looked up in the organization
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
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: Id | None = None
    status: LeadStatus = "new"
    source: Source = "other"
    value: Money = 0
    notes: Notes | None = None


class LeadUpdate(CamelModel):
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: Id | None = None
    status: LeadStatus | None = None
    source: Source | None = None
    value: Money | None = None
    notes: Notes | None = None

    _required = field_validator("name", "status", "source", "value", mode="before")(_not_null)


# Lists page by offset (seed 004: ?limit=&offset=, with `total`) or by cursor (?cursor=, then
# `pagination.nextCursor`; `total` null unless ?total=true): core CursorQuery.
TOTAL = "All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true"


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


class LeadList(CamelModel):
    leads: list[LeadOut]
    total: int | None = Field(description=TOTAL)
    pagination: CamelCursorPagination


# -- list queries --------------------------------------------------------------------------------

SearchTerm = Blankable[Annotated[str, StringConstraints(max_length=200)]]


class SortedQuery(CursorQuery):
    sort: str
    order: Literal["asc", "desc"] | None = Field(None, description="Default: desc for createdAt, else asc")

    def direction(self) -> str:
        return self.order or ("desc" if self.sort == "createdAt" else "asc")


class LeadQuery(SortedQuery):
    status: LeadStatus | None = None
    source: Blankable[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=32)]] = None
    company_id: Blankable[UUID] = Field(None, alias="companyId")
    search: SearchTerm = Field(None, description="Part of the name, email or company, any case")
    sort: Literal[tuple(LEAD_SORTS)] = "createdAt"  # type: ignore[valid-type]


class ContactQuery(SortedQuery):
    search: SearchTerm = Field(None, description="Part of the name, email or company, any case")
    tags: CommaSeparated[Annotated[str, StringConstraints(max_length=50)]] = Field(
        [], max_length=50, description="Only contacts carrying all these tags (comma-separated)")
    sort: Literal[tuple(CONTACT_SORTS)] = "createdAt"  # type: ignore[valid-type]


class CompanyQuery(CursorQuery):
    search: SearchTerm = Field(None, description="Part of the name, any case")


class ConversationQuery(CursorQuery):
    status: Literal["active", "closed"] | None = None


# -- contacts ------------------------------------------------------------------------------------


class ContactCreate(CamelModel):
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    company: ShortText | None = None
    company_id: Id | None = None
    position: Label | None = None
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
    total: int | None = Field(description=TOTAL)
    pagination: CamelCursorPagination


# -- companies -----------------------------------------------------------------------------------


class CompanyCreate(CamelModel):
    name: Name
    domain: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=253,
                                             pattern=r"^[A-Za-z0-9.-]{1,253}$")] | None = None
    industry: Label | None = None
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
    total: int | None = Field(description=TOTAL)
    pagination: CamelCursorPagination


# -- messages ------------------------------------------------------------------------------------


class MessageCreate(CamelModel):
    lead_id: Id
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
    total: int | None = Field(description=TOTAL)
    pagination: CamelCursorPagination


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
    total: int | None = Field(description=TOTAL)
    pagination: CamelCursorPagination


# -- analytics and achievements ------------------------------------------------------------------


class DashboardSummary(CamelModel):
    total_leads: int
    qualified_leads: int
    conversion_rate: float
    total_revenue: float
    avg_deal_size: float


class DashboardTrends(CamelModel):
    leads_this_month: int
    leads_growth: float
    revenue_this_month: float
    revenue_growth: float


class Dashboard(CamelModel):
    summary: DashboardSummary
    trends: DashboardTrends
    source_breakdown: dict[str, float] = Field(description="Percent of all leads per source")


class AchievementProgressOut(CamelModel):
    current: int
    target: int
    percentage: int


class AchievementOut(CamelModel):
    id: str
    title: str
    description: str
    category: str
    rarity: str
    unlocked_at: Timestamp | None
    progress: AchievementProgressOut


class AchievementTotals(CamelModel):
    total_unlocked: int
    total_available: int
    points: int


class AchievementList(CamelModel):
    achievements: list[AchievementOut]
    progress: AchievementTotals


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
    source: str | None = Field(None, description="The system that wrote the contact through `upsert_contact` "
                                                 "(e.g. \"mautic\", \"dms:<connection id>\"); null from the CRM's own API")


class ContactUpdated(ContactCreated):
    pass


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
    ("contact.updated", ContactUpdated, "A contact's fields changed", "crm.contacts.read", None),
    ("message.received", MessageEvent, "A lead sent a message", "crm.messages.read", "004"),
    ("message.sent", MessageEvent, "A member or agent sent a message to a lead", "crm.messages.read", None),
    ("achievement.unlocked", AchievementUnlocked, "A member unlocked an achievement", "crm.achievements.read", None),
    ("notification.created", NotificationCreated, "A notification for one member (an unlocked achievement)",
     None, None),
)
