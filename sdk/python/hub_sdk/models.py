"""Typed models of the Hub's API, GENERATED from its /openapi.json by datamodel-code-generator:
do not edit; run `python scripts/generate_sdk.py` after changing a route or a schema."""

from __future__ import annotations

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    confloat,
    conint,
    constr,
)
from typing import Annotated, Any, Literal
from typing_extensions import TypeAliasType
from uuid import UUID
from datetime import date as date_aliased


class AIFunction(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(pattern=r"^[a-zA-Z0-9_-]{1,64}$", max_length=64)
    description: constr(max_length=4000) | None = ""
    parameters: dict[str, Any] | None = None


class AIFunctionCall(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: str
    arguments: str


class AIMessage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    role: Literal["assistant"] = "assistant"
    content: str | None
    function_call: AIFunctionCall | None = None


Functions = TypeAliasType(
    "Functions", Annotated[list[AIFunction], Field(max_length=128)]
)


Context = TypeAliasType(
    "Context",
    Annotated[list[Annotated[str, Field(max_length=200000)]], Field(max_length=100)],
)


class AcceptInvitationRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    token: constr(min_length=1, max_length=512)
    password: constr(min_length=8, max_length=256)


class AchievementProgressOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    current: int
    target: int
    percentage: int


class AchievementTotals(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_unlocked: int = Field(..., alias="totalUnlocked")
    total_available: int = Field(..., alias="totalAvailable")
    points: int


class ActionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: str
    parameters: dict[str, Any]
    status: Literal["executed", "proposed", "failed"]
    result: Any | None = None
    error: dict[str, Any] | None = None


class ActivateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model_version: constr(min_length=1, max_length=32)
    force: bool | None = False


class AgentConfigIn(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model: constr(min_length=1, max_length=200) | None = None
    temperature: confloat(ge=0.0, le=2.0) | None = 0.0
    max_tokens: conint(ge=1, le=8192) | None = Field(512, alias="maxTokens")
    system_prompt: constr(max_length=20000) | None = Field("", alias="systemPrompt")
    mode: Literal["execute", "propose"] | None = "execute"
    max_steps: conint(ge=1, le=20) | None = Field(4, alias="maxSteps")
    timeout_seconds: confloat(le=600.0, gt=0.0) | None = Field(
        60.0, alias="timeoutSeconds"
    )
    tool_choice: constr(min_length=1, max_length=64) | None = Field(
        "auto", alias="toolChoice"
    )


class AgentConfigOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model: str | None
    temperature: float
    max_tokens: int = Field(..., alias="maxTokens")
    system_prompt: str = Field(..., alias="systemPrompt")
    mode: Literal["execute", "propose"]
    max_steps: int = Field(..., alias="maxSteps")
    timeout_seconds: float = Field(..., alias="timeoutSeconds")
    tool_choice: str = Field(..., alias="toolChoice")


class AgentConfigUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model: constr(min_length=1, max_length=200) | None = None
    temperature: confloat(ge=0.0, le=2.0) | None = None
    max_tokens: conint(ge=1, le=8192) | None = Field(None, alias="maxTokens")
    system_prompt: constr(max_length=20000) | None = Field(None, alias="systemPrompt")
    mode: Literal["execute", "propose"] | None = None
    max_steps: conint(ge=1, le=20) | None = Field(None, alias="maxSteps")
    timeout_seconds: confloat(le=600.0, gt=0.0) | None = Field(
        None, alias="timeoutSeconds"
    )
    tool_choice: constr(min_length=1, max_length=64) | None = Field(
        None, alias="toolChoice"
    )


class AgentCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    type: constr(pattern=r"^[A-Za-z0-9_-]{1,32}$", max_length=32) | None = "general"
    status: Literal["active", "inactive"] | None = "active"
    capabilities: list[constr(min_length=1, max_length=64)] | None = Field(
        None, max_length=50
    )
    config: AgentConfigIn | None = None


class AgentMetrics(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_interactions: int = Field(..., alias="totalInteractions")
    successful_interactions: int = Field(..., alias="successfulInteractions")
    avg_response_time: float = Field(..., alias="avgResponseTime")
    cost_per_interaction: float = Field(..., alias="costPerInteraction")
    lead_qualification_rate: float = Field(..., alias="leadQualificationRate")


class AgentPerformance(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    agent_id: str = Field(..., alias="agentId")
    name: str
    metrics: AgentMetrics


Capabilities = TypeAliasType(
    "Capabilities",
    Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=50)
    ],
)


class AgentUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    type: constr(pattern=r"^[A-Za-z0-9_-]{1,32}$", max_length=32) | None = None
    status: Literal["active", "inactive"] | None = None
    capabilities: Capabilities | None = None
    config: AgentConfigUpdate | None = None


class ApiKeyCreate(BaseModel):
    """
    Seed 003's form: `permissions` are the key's scopes.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=100)
    permissions: list[constr(min_length=1, max_length=100)] | None = Field(
        None, max_length=50, min_length=1
    )


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    name: str
    key: str
    created_at: AwareDatetime


class ApiKeySummary(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    name: str
    key_prefix: str
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None
    status: Literal["active", "revoked"]


class AsyncAPIDocument(BaseModel):
    """
    An AsyncAPI 3.0 document (https://www.asyncapi.com/docs/reference/specification/v3.0.0).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    asyncapi: str
    info: dict[str, Any]
    channels: dict[str, Any]
    operations: dict[str, Any]
    components: dict[str, Any]


class AttachmentOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    ticket_id: str
    name: str
    content_type: str
    size: int
    uploaded_by: str | None
    created_at: AwareDatetime


class AttachmentUpload(BaseModel):
    """
    multipart/form-data with the file in the part `file` (its type is told by its content).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    file: bytes


class AttemptOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    attempt: int
    at: str
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float


class AuthenticationOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal["api_key", "oauth2", "basic_auth"]
    credentials: dict[str, str] = Field(
        ..., description="masked: never the secret values"
    )
    refresh_configuration: dict[str, Any] | None = None


class BillingCustomerOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    stripe_customer_id: str
    email: str | None
    created_at: str


class CallbackReceived(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    received: bool
    status: Literal[
        "queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed"
    ]


class CamelCursorPagination(BaseModel):
    """
    CursorPagination in camelCase (seed 004 lists): {limit, offset, hasMore, nextCursor}.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    limit: int
    offset: int | None
    has_more: bool = Field(..., alias="hasMore")
    next_cursor: str | None = Field(
        None,
        alias="nextCursor",
        description="The next page's `cursor` (cursor pages only; null at the end)",
    )


class CamelNotification(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    type: str
    title: str
    message: str
    data: dict[str, Any]
    status: Literal["unread", "read"]
    channel: str
    created_at: AwareDatetime = Field(..., alias="createdAt")
    read_at: AwareDatetime | None = Field(..., alias="readAt")


class CamelNotificationList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    notifications: list[CamelNotification]
    unread_count: int = Field(..., alias="unreadCount")


class CamelPagination(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    limit: int
    offset: int
    has_more: bool = Field(..., alias="hasMore")


class CancelBody(BaseModel):
    """
    Nothing is read from the body of a cancel.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    reason: constr(max_length=200) | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    reason: constr(max_length=500) | None = Field(
        None, description="kept as the execution's error_message"
    )


class CheckoutOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    session_id: str
    url: str


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plan: constr(min_length=1, max_length=32) = Field(
        ..., description="a plan of GET /api/v1/plans"
    )
    success_url: constr(min_length=8, max_length=2048) = Field(
        ..., description="http(s) URL Stripe returns to after paying"
    )
    cancel_url: constr(min_length=8, max_length=2048) = Field(
        ..., description="http(s) URL Stripe returns to when the payer gives up"
    )


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    comment: constr(min_length=1, max_length=50000)
    is_internal: bool | None = Field(
        False, description="a note for staff only (support.staff)"
    )


class CommentOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    ticket_id: str
    author_id: str | None
    comment: str
    is_internal: bool
    created_at: AwareDatetime


class CompanyCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    domain: constr(pattern=r"^[A-Za-z0-9.-]{1,253}$", max_length=253) | None = None
    industry: constr(max_length=100) | None = None
    size: constr(max_length=32) | None = None
    notes: constr(max_length=10000) | None = None


class CompanyOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    notes: str | None
    lead_count: int | None = Field(0, alias="leadCount")
    contact_count: int | None = Field(0, alias="contactCount")
    created_at: str = Field(..., alias="createdAt")
    updated_at: str = Field(..., alias="updatedAt")


class CompanyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    domain: constr(pattern=r"^[A-Za-z0-9.-]{1,253}$", max_length=253) | None = None
    industry: constr(max_length=100) | None = None
    size: constr(max_length=32) | None = None
    notes: constr(max_length=10000) | None = None


class CompletionUsage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


Config = TypeAliasType(
    "Config",
    Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=100)],
)


class ConnectRequest(BaseModel):
    """
    Seed 004's connect body: the integration's credentials (see its `credentialsSchema`:
    strings) and config (its `configSchema`: `syncFrequency`, `dataTypes` and its own fields).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    credentials: dict[constr(min_length=1, max_length=64), constr(max_length=4096)] = (
        Field(..., max_length=50)
    )
    config: (
        dict[
            constr(min_length=1, max_length=64),
            constr(max_length=2048)
            | conint(ge=-1000000000000, le=1000000000000)
            | bool
            | Config
            | None,
        ]
        | None
    ) = Field(None, max_length=50)


class ConnectionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    provider: Literal["CDK", "Reynolds", "DealerSocket", "Custom"]
    status: Literal["connected", "error"]
    configuration: dict[str, Any]
    authentication: AuthenticationOut
    endpoints: dict[str, str]
    field_mapping: dict[str, Any]
    paging: dict[str, Any] | None
    api_key_header: str
    sync_frequency: Literal["manual", "hourly", "daily"]
    integration: str = Field(..., description="its entry in GET /api/integrations")
    last_sync_at: str | None
    next_sync_at: str | None
    last_error: str | None
    last_error_at: str | None
    circuit_open_until: str | None
    created_at: str


class ContactCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: constr(pattern=r"^\+?[0-9 ()./-]{3,32}$", max_length=32) | None = None
    company: constr(max_length=200) | None = None
    company_id: constr(max_length=64) | None = Field(None, alias="companyId")
    position: constr(max_length=100) | None = None
    tags: list[constr(min_length=1, max_length=50)] | None = Field(None, max_length=50)
    status: Literal["active", "inactive"] | None = "active"
    notes: constr(max_length=10000) | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    company_id: str | None = Field(..., alias="companyId")
    position: str | None
    tags: list[str]
    last_contact_date: str | None = Field(..., alias="lastContactDate")
    status: str
    notes: str | None
    created_at: str = Field(..., alias="createdAt")


Tags = TypeAliasType(
    "Tags",
    Annotated[
        list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=50)
    ],
)


class ContactUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    email: EmailStr | None = None
    phone: constr(pattern=r"^\+?[0-9 ()./-]{3,32}$", max_length=32) | None = None
    company: constr(max_length=200) | None = None
    company_id: constr(max_length=64) | None = Field(None, alias="companyId")
    position: constr(max_length=100) | None = None
    tags: Tags | None = None
    status: Literal["active", "inactive"] | None = None
    notes: constr(max_length=10000) | None = None


class ContentPart(BaseModel):
    """
    A part of a message's content: its text (other kinds of parts, images, are not read).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: constr(max_length=32) | None = "text"
    text: constr(max_length=200000) | None = None


class CrmMessageOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    lead_id: str = Field(..., alias="leadId")
    content: str
    sender: Literal["lead", "agent", "user"]
    timestamp: str
    status: str


class CustomerCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email: constr(min_length=3, max_length=254) | None = Field(
        None, description="the billing e-mail (default: the caller's)"
    )


class DashboardSummary(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_leads: int = Field(..., alias="totalLeads")
    qualified_leads: int = Field(..., alias="qualifiedLeads")
    conversion_rate: float = Field(..., alias="conversionRate")
    total_revenue: float = Field(..., alias="totalRevenue")
    avg_deal_size: float = Field(..., alias="avgDealSize")


class DashboardTrends(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    leads_this_month: int = Field(..., alias="leadsThisMonth")
    leads_growth: float = Field(..., alias="leadsGrowth")
    revenue_this_month: float = Field(..., alias="revenueThisMonth")
    revenue_growth: float = Field(..., alias="revenueGrowth")


class DataRange(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    start_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None


class DeliveryDetail(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    webhook_id: UUID
    event: str
    event_id: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    response_status: int | None
    response_body: str | None
    error: str | None
    next_attempt_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    created_at: AwareDatetime
    job_id: UUID | None = Field(
        ..., description="the job of the latest attempt (GET /api/v1/jobs/{id})"
    )
    attempt_log: list[AttemptOut]
    payload: dict[str, Any]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    webhook_id: UUID
    event: str
    event_id: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    response_status: int | None
    response_body: str | None
    error: str | None
    next_attempt_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    created_at: AwareDatetime
    job_id: UUID | None = Field(
        ..., description="the job of the latest attempt (GET /api/v1/jobs/{id})"
    )
    attempt_log: list[AttemptOut]


class DimensionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: str
    label: str


class DisconnectRequest(BaseModel):
    """
    Optional: why, for the `integration.disconnected` event.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    reason: constr(max_length=500) | None = None


class DmsTestRequest(BaseModel):
    """
    Optional: which endpoint to ask for one record (default: the first the connection has).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    resource: (
        Literal[
            "customers",
            "vehicles",
            "service_appointments",
            "sales_opportunities",
            "inventory",
        ]
        | None
    ) = None


class EmailAttachment(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    filename: constr(pattern=r"^[^/\\\r\n\x00]+$", min_length=1, max_length=255)
    content: constr(min_length=1, max_length=209715200) = Field(
        ..., description="the file, in base64"
    )
    content_type: constr(max_length=255) | None = Field(
        "application/octet-stream", description="a MIME type: type/subtype"
    )


class EmailContent(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    text: constr(max_length=1000000) | None = None
    html: constr(max_length=1000000) | None = None


class EmailRequest1(BaseModel):
    """
    Seed 001's EmailRequest: `content` (text and/or html) and `subject`, or a template
    (`template_id` + `template_data`), which gives whatever the body leaves out.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    provider: Literal["smtp", "sendgrid", "aws_ses", "mailgun"] | None = Field(
        "smtp", description="the organization's connected integration"
    )
    to: list[EmailStr] = Field(..., max_length=50, min_length=1)
    cc: list[EmailStr] | None = Field(None, max_length=50)
    bcc: list[EmailStr] | None = Field(None, max_length=50)
    from_: EmailStr | None = Field(
        None, alias="from", description="default: the SMTP integration's from address"
    )
    reply_to: EmailStr | None = None
    subject: constr(pattern=r"^[^\r\n]*$", min_length=1, max_length=998) | None
    content: EmailContent | None
    template_id: UUID | None = None
    template_data: dict[str, Any] | None = None
    attachments: list[EmailAttachment] | None = Field(None, max_length=100)


class EmailRequest2(BaseModel):
    """
    Seed 001's EmailRequest: `content` (text and/or html) and `subject`, or a template
    (`template_id` + `template_data`), which gives whatever the body leaves out.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    provider: Literal["smtp", "sendgrid", "aws_ses", "mailgun"] | None = Field(
        "smtp", description="the organization's connected integration"
    )
    to: list[EmailStr] = Field(..., max_length=50, min_length=1)
    cc: list[EmailStr] | None = Field(None, max_length=50)
    bcc: list[EmailStr] | None = Field(None, max_length=50)
    from_: EmailStr | None = Field(
        None, alias="from", description="default: the SMTP integration's from address"
    )
    reply_to: EmailStr | None = None
    subject: constr(pattern=r"^[^\r\n]*$", min_length=1, max_length=998) | None = None
    content: EmailContent | None = None
    template_id: UUID | None
    template_data: dict[str, Any] | None = None
    attachments: list[EmailAttachment] | None = Field(None, max_length=100)


class EmailRequest(RootModel[EmailRequest1 | EmailRequest2]):
    root: EmailRequest1 | EmailRequest2 = Field(
        ...,
        description="Seed 001's EmailRequest: `content` (text and/or html) and `subject`, or a template\n(`template_id` + `template_data`), which gives whatever the body leaves out.",
        title="EmailRequest",
    )


class EmbeddingFeatures(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    title: constr(max_length=500) | None = ""
    description: constr(max_length=10000) | None = ""
    category: constr(min_length=1, max_length=64) | None = None
    tags: list[constr(min_length=1, max_length=32)] | None = Field(None, max_length=20)
    image_url: constr(max_length=2048) | None = None


class EmbeddingItem(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: constr(min_length=1, max_length=128)
    features: EmbeddingFeatures | None = None


class EmbeddingOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: str
    embedding: list[float]
    dimension: int
    model_version: str


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    tenant_id: constr(max_length=64)
    items: list[EmbeddingItem] = Field(..., max_length=1000, min_length=1)
    model_version: constr(min_length=1, max_length=32) | None = None


class EmbeddingsResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    embeddings: list[EmbeddingOut]
    model_version: str


class Endpoints(BaseModel):
    """
    seed 001 DMSEndpoints: paths under base_url (a provider's defaults when left out).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    customers: (
        constr(pattern=r"^(/[^\s?#]*)?[^\s]*$", min_length=1, max_length=300) | None
    ) = None
    vehicles: (
        constr(pattern=r"^(/[^\s?#]*)?[^\s]*$", min_length=1, max_length=300) | None
    ) = None
    service_appointments: (
        constr(pattern=r"^(/[^\s?#]*)?[^\s]*$", min_length=1, max_length=300) | None
    ) = None
    sales_opportunities: (
        constr(pattern=r"^(/[^\s?#]*)?[^\s]*$", min_length=1, max_length=300) | None
    ) = None
    inventory: (
        constr(pattern=r"^(/[^\s?#]*)?[^\s]*$", min_length=1, max_length=300) | None
    ) = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    code: str
    message: str
    details: dict[str, Any]
    request_id: str | None
    timestamp: str


class ErrorResponse(BaseModel):
    """
    Every error: `code` names it (see each response for the codes of its status), `details`
    says more (`field` and `reason` for a validation error).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    error: ErrorBody


class EventTypeOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: str
    description: str
    plugin: str
    permission: str | None
    seed: str | None
    payload_schema: dict[str, Any]


class EventsReceived(BaseModel):
    """
    What a provider's event webhook changed: the events about messages of the Hub it applied.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    received: bool
    applied: int


class ExecuteAccepted(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    job_id: str
    status: Literal["pending"]
    message: str


class ExecuteInput(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    message: constr(min_length=1, max_length=8000)
    lead_id: constr(min_length=1, max_length=64) | None = Field(None, alias="leadId")
    context: dict[str, Any] | None = None


class ExecuteOutput(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    response: str
    actions: list[ActionOut]
    confidence: float


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    input: ExecuteInput


class ExecutionAccepted(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    execution_id: str
    status: Literal["pending", "running"]
    created_at: str


class ExecutionMetrics(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_duration_ms: float
    ai_processing_time_ms: float
    api_calls_count: int
    tokens_used: int
    cost_estimate: float


class ExecutionStep(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    node_id: str
    node_name: str
    node_type: str
    status: str
    attempt: int
    reused: bool
    input_data: Any | None = None
    output_data: Any | None = None
    error_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: float | None = None


class ExecutionSummary(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    workflow_id: str
    workflow_version: int
    status: Literal["pending", "running", "completed", "failed", "cancelled", "timeout"]
    progress: int
    error_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    created_by: str | None
    created_at: str
    trigger: str | None = Field(
        None,
        description="what started it when not a plain run (e.g. webhook, schedule)",
    )
    rerun_of: str | None = None


class ExportAccepted(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    job_id: str
    status: Literal["queued"]


class ExportRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    tenant_id: constr(max_length=64)
    start_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None


class FileInfo(BaseModel):
    """
    A stored file as plugins and the API see it.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    organization_id: UUID
    name: str
    content_type: str
    declared_type: str | None
    size: int
    sha256: str
    purpose: str
    owner_id: str | None
    shared: bool
    created_by: UUID | None
    created_at: AwareDatetime


class FileUpload(BaseModel):
    """
    multipart/form-data with the file in the part `file` (its name and Content-Type are
    the client's; the type stored is told from the content).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    file: bytes


class FilterTarget(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    field_id: constr(max_length=200) = Field(..., alias="fieldId")


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(pattern=r"^[a-zA-Z0-9_-]{1,64}$", max_length=64)
    description: constr(max_length=4000) | None = ""
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    uptime_seconds: int
    checks: dict[str, str]


class HistoryEntry(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: str
    at: AwareDatetime
    detail: str | None = None


class Hyperparameters(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    embedding_dim: conint(ge=1, le=1024) | None = None
    epochs: conint(ge=1, le=200) | None = None
    regularization: confloat(ge=0.0, le=1000000.0) | None = None
    alpha: confloat(ge=0.0, le=10000.0) | None = None
    learning_rate: confloat(ge=1e-06, le=10.0) | None = None
    history_length: conint(ge=1, le=1000) | None = None
    cooccurrence_window: conint(ge=1, le=1000) | None = None
    neighbours: conint(ge=1, le=10000) | None = None
    candidates_model: conint(ge=1, le=10000) | None = None
    candidates_cooccurrence: conint(ge=0, le=10000) | None = None
    candidates_popular: conint(ge=0, le=10000) | None = None
    ranker_rounds: conint(ge=0, le=5000) | None = None
    ranker_depth: conint(ge=1, le=16) | None = None
    ranker_learning_rate: confloat(ge=1e-06, le=1.0) | None = None
    ranker_negatives: conint(ge=0, le=1000) | None = None
    ranker_holdout: conint(ge=0, le=100) | None = None
    ranker_max_users: conint(ge=0, le=1000000) | None = None
    cold_start_ridge: confloat(ge=0.0, le=1000000.0) | None = None
    ann_partitions: conint(ge=0, le=1000000) | None = None
    ann_probes: conint(ge=1, le=100000) | None = None
    ann_connectivity: conint(ge=2, le=256) | None = None
    ann_expansion_add: conint(ge=1, le=4096) | None = None
    ann_expansion_search: conint(ge=1, le=4096) | None = None
    seed: conint(ge=0, le=2147483647) | None = None
    candidates_repurchase: conint(ge=0, le=10000) | None = None
    evaluation_users: conint(ge=0, le=100000) | None = None
    ann_method: Literal["ivf", "hnsw"] | None = None


class InstantiateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = Field(
        None, description="default: the template's name"
    )
    parameters: dict[str, Any] | None = None


class IntegrationOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    type: str
    category: str
    description: str
    status: Literal["connected", "disconnected", "error"]
    config: dict[str, Any] | None
    credentials: dict[str, str] | None = Field(
        ..., description="masked: at most the last 4 characters of a value"
    )
    connected_at: str | None = Field(..., alias="connectedAt")
    last_sync: str | None = Field(..., alias="lastSync")
    last_error: str | None = Field(..., alias="lastError")
    last_error_at: str | None = Field(..., alias="lastErrorAt")
    credentials_schema: list[dict[str, Any]] = Field(..., alias="credentialsSchema")
    config_schema: list[dict[str, Any]] = Field(..., alias="configSchema")


class InteractionAccepted(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: Literal["accepted"]
    interaction_id: str
    item_known: bool


class InteractionRecord(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: constr(min_length=1, max_length=128)
    item_id: constr(min_length=1, max_length=128)
    interaction_type: Literal[
        "view",
        "click",
        "purchase",
        "like",
        "dislike",
        "add_to_cart",
        "remove_from_cart",
    ]
    timestamp: AwareDatetime | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class Interaction(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: constr(min_length=1, max_length=128)
    item_id: constr(min_length=1, max_length=128)
    interaction_type: Literal[
        "view",
        "click",
        "purchase",
        "like",
        "dislike",
        "add_to_cart",
        "remove_from_cart",
    ]
    timestamp: AwareDatetime | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class InteractionsUpload(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    interactions: list[Interaction]


class InternalInteractionsUpload(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    interactions: list[Interaction]
    tenant_id: constr(max_length=64)


class Item(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: constr(min_length=1, max_length=128)
    title: constr(min_length=1, max_length=500)
    description: constr(max_length=10000) | None = ""
    category: constr(min_length=1, max_length=64) | None = None
    tags: list[constr(min_length=1, max_length=32)] | None = Field(None, max_length=20)
    metadata: dict[str, Any] | None = None
    created_at: AwareDatetime | None = None


class InternalItemsUpload(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    items: list[Item]
    tenant_id: constr(max_length=64)


class InvoiceOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    stripe_invoice_id: str
    stripe_subscription_id: str | None
    number: str | None
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: str | None
    period_end: str | None
    created: str | None


class ItemEmbedding(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: str
    embedding: list[float]
    dimension: int
    model_version: str


class ItemOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: str
    title: str
    description: str
    category: str | None
    tags: list[str]
    metadata: dict[str, Any]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class Item1(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: constr(min_length=1, max_length=128)
    title: constr(min_length=1, max_length=500)
    description: constr(max_length=10000) | None = ""
    category: constr(min_length=1, max_length=64) | None = None
    tags: list[constr(min_length=1, max_length=32)] | None = Field(None, max_length=20)
    metadata: dict[str, Any] | None = None
    created_at: AwareDatetime | None = None


class ItemsUpload(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    items: list[Item1]


class JobResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    organization_id: str
    user_id: str | None
    job_type: str
    status: str
    progress: int
    input_data: Any
    output_data: Any
    error: str | None
    attempts: int
    max_attempts: int
    priority: int
    timeout_seconds: int | None
    cancel_requested: bool
    run_after: AwareDatetime | None
    created_at: AwareDatetime | None
    updated_at: AwareDatetime | None
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=100)
    scopes: list[constr(min_length=1, max_length=100)] | None = Field(
        None, max_length=50, min_length=1
    )
    expires_days: conint(ge=1, le=3650) | None = None


class KeyCreated(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    organization_id: UUID
    user_id: UUID
    name: str
    key_prefix: str
    scopes: list[str]
    is_active: bool
    status: Literal["active", "revoked", "expired", "inactive"]
    expires_at: AwareDatetime | None
    usage_count: int
    last_used_at: AwareDatetime | None
    created_at: AwareDatetime
    key: str = Field(..., description="The full key. Shown only in this response.")


class KeyResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    organization_id: UUID
    user_id: UUID
    name: str
    key_prefix: str
    scopes: list[str]
    is_active: bool
    status: Literal["active", "revoked", "expired", "inactive"]
    expires_at: AwareDatetime | None
    usage_count: int
    last_used_at: AwareDatetime | None
    created_at: AwareDatetime


Scopes = TypeAliasType(
    "Scopes",
    Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(max_length=50, min_length=1),
    ],
)


class KeyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=100) | None = None
    scopes: Scopes | None = None
    is_active: bool | None = None
    expires_days: conint(ge=1, le=3650) | None = None


class KeyUsage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_requests: int
    success_requests: int
    failed_requests: int
    avg_response_time_ms: float
    requests_by_endpoint: dict[str, int]


class LastMessage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    content: str
    timestamp: str
    sender: Literal["lead", "agent", "user"]


class LeadCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: constr(pattern=r"^\+?[0-9 ()./-]{3,32}$", max_length=32) | None = None
    company: constr(max_length=200) | None = None
    company_id: constr(max_length=64) | None = Field(None, alias="companyId")
    status: Literal["new", "contacted", "qualified", "converted", "lost"] | None = "new"
    source: constr(pattern=r"^[A-Za-z0-9_-]{1,32}$", max_length=32) | None = "other"
    value: confloat(ge=0.0, le=1000000000000.0) | None = 0
    notes: constr(max_length=10000) | None = None


class LeadOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    company_id: str | None = Field(..., alias="companyId")
    status: Literal["new", "contacted", "qualified", "converted", "lost"]
    source: str
    value: float
    notes: str | None
    created_at: str = Field(..., alias="createdAt")
    updated_at: str = Field(..., alias="updatedAt")


class LeadUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    email: EmailStr | None = None
    phone: constr(pattern=r"^\+?[0-9 ()./-]{3,32}$", max_length=32) | None = None
    company: constr(max_length=200) | None = None
    company_id: constr(max_length=64) | None = Field(None, alias="companyId")
    status: Literal["new", "contacted", "qualified", "converted", "lost"] | None = None
    source: constr(pattern=r"^[A-Za-z0-9_-]{1,32}$", max_length=32) | None = None
    value: confloat(ge=0.0, le=1000000000000.0) | None = None
    notes: constr(max_length=10000) | None = None


class LightdashErrorDetail(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status_code: int = Field(..., alias="statusCode")
    name: str
    message: str
    code: str
    details: dict[str, Any] | None = None


class LightdashOk(BaseModel):
    """
    Lightdash's success body: `{"status": "ok", "results": ...}`.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: Literal["ok"]
    results: Any | None = None


class LivenessResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: str


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email: EmailStr
    password: constr(min_length=1, max_length=256)


class LoginUser(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Literal["admin", "developer", "member", "viewer"]
    permissions: list[str]
    tenant_id: UUID
    organization_id: UUID


class LogoUpload(BaseModel):
    """
    multipart/form-data with the image in the part `file`: PNG, JPEG or WebP (SVG is refused).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    file: bytes


class LogoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    refresh_token: constr(max_length=512) | None = None


class MailgunSignature(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    timestamp: constr(max_length=20)
    token: constr(max_length=100)
    signature: constr(max_length=128)


class MailgunWebhook(BaseModel):
    """
    A Mailgun webhook: its signature and the event (`event`, `severity`, `reason`,
    `recipient`, `message.headers.message-id`, `user-variables`, `delivery-status`).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    signature: MailgunSignature
    event_data: dict[str, Any] = Field(..., alias="event-data")


class MarkAllRead(BaseModel):
    """
    The optional body of marking all read: only those of one `type` when given.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: constr(pattern=r"^[a-z][a-z0-9_.-]*$", min_length=1, max_length=50) | None = (
        None
    )


class MarkRead(BaseModel):
    """
    The optional body of marking one read: `{"is_read": false}` marks it unread again.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    is_read: bool | None = True


class MarkedAllRead(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    updated: int


class MemberCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email: EmailStr
    first_name: constr(min_length=1, max_length=100)
    last_name: constr(min_length=1, max_length=100)
    role: Literal["admin", "developer", "member", "viewer"] | None = "viewer"
    password: constr(min_length=8, max_length=256) | None = None


class MemberResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Literal["admin", "developer", "member", "viewer"]
    status: Literal["active", "invited"]
    created_at: AwareDatetime
    last_login_at: AwareDatetime | None
    invite_token: str | None = Field(
        None, description="Shown once, when the invitation is created"
    )


class MemberUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    role: Literal["admin", "developer", "member", "viewer"]


class MessageAccepted(BaseModel):
    """
    Seed 001's EmailResponse / SMSResponse, as the send is queued.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    message_id: str
    status: Literal[
        "queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed"
    ]
    channel: Literal["email", "sms"]
    provider: str
    job_id: str | None
    provider_response: dict[str, Any] | None = None
    timestamp: AwareDatetime


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    lead_id: constr(max_length=64) = Field(..., alias="leadId")
    content: constr(min_length=1, max_length=10000)
    sender: Literal["lead", "agent", "user"] | None = "user"


class MessageOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    message_id: str
    channel: Literal["email", "sms"]
    provider: str
    status: Literal[
        "queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed"
    ]
    to: list[str]
    cc: list[str]
    bcc: list[str]
    from_: str | None = Field(None, alias="from")
    subject: str | None
    template_id: str | None
    provider_message_id: str | None
    provider_response: dict[str, Any] | None = None
    error: str | None
    attempts: int
    job_id: str | None
    history: list[HistoryEntry]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class MetricOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    plugin: str
    label: str
    description: str
    aggregate: str
    format: str
    time: bool
    granularities: list[str]
    dimensions: list[DimensionOut]


class MetricsOut(BaseModel):
    """
    The catalogue (`metrics`, `total`), or with `metric` one metric's values (`rows` of
    `{period, <dimension>..., value}`).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    metrics: list[MetricOut] | None = None
    total: int | None = None
    metric: str | None = None
    label: str | None = None
    aggregate: str | None = None
    format: str | None = None
    granularity: str | None = None
    group_by: list[str] | None = Field(None, alias="groupBy")
    rows: list[dict[str, Any]] | None = None
    truncated: bool | None = None


class ModelCard(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    version: str
    model_type: str
    status: str
    is_active: bool
    job_id: str | None
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    holdout: dict[str, Any] | None
    dimension: int | None
    item_count: int
    interaction_count: int
    error: str | None
    created_at: AwareDatetime
    trained_at: AwareDatetime | None
    activated_at: AwareDatetime | None


class N8nActivateBody(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    version_id: constr(max_length=100) | None = Field(
        None,
        alias="versionId",
        description="refuse (400) unless this is the workflow's current versionId",
    )


class N8nCredential(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    type: str
    created_at: str = Field(..., alias="createdAt")
    updated_at: str = Field(..., alias="updatedAt")


class N8nCredentialData(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user: constr(max_length=200) | None = Field(None, description="httpBasicAuth")
    password: constr(max_length=1000) | None = Field(None, description="httpBasicAuth")
    name: constr(max_length=200) | None = Field(
        None, description="httpHeaderAuth: the header"
    )
    value: constr(max_length=1000) | None = Field(
        None, description="httpHeaderAuth: its value"
    )


class N8nCredentialRef(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(max_length=100) | None = None
    name: constr(max_length=200) | None = None


class N8nExecution(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    finished: bool
    mode: str = Field(
        ..., description="webhook, manual, trigger (a schedule), retry or integrated"
    )
    retry_of: str | None = Field(..., alias="retryOf")
    retry_success_id: str | None = Field(..., alias="retrySuccessId")
    started_at: str = Field(..., alias="startedAt")
    stopped_at: str | None = Field(..., alias="stoppedAt")
    workflow_id: str = Field(..., alias="workflowId")
    wait_till: str | None = Field(..., alias="waitTill")
    custom_data: dict[str, Any] = Field(..., alias="customData")
    status: str = Field(..., description="new, running, success, error or canceled")
    data: dict[str, Any] | None = Field(
        None, description="with includeData: resultData.runData by node name"
    )


class N8nExecutionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    data: list[N8nExecution]
    next_cursor: str | None = Field(
        ...,
        alias="nextCursor",
        description="opaque: pass it as `cursor` for the next page; null on the last",
    )


class N8nMessage(BaseModel):
    """
    n8n's error body on its API: `{"message": "..."}`.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    message: str


class N8nNode(BaseModel):
    """
    One n8n node as n8n exports it.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(max_length=100) | None = None
    name: constr(max_length=200)
    type: constr(max_length=200) = Field(
        ...,
        description="e.g. n8n-nodes-base.webhook (see the plugin's supported types)",
    )
    type_version: confloat(ge=0.0, le=100.0) = Field(..., alias="typeVersion")
    position: list[confloat(ge=-1000000.0, le=1000000.0)] = Field(
        ..., description="[x, y] on the canvas", max_length=2
    )
    parameters: dict[str, Any] = Field(
        ..., description="the node's parameters; `={{ }}` values are expressions"
    )
    credentials: dict[str, N8nCredentialRef] | None = Field(
        None, description='{"httpBasicAuth": {"id", "name"}}'
    )
    webhook_id: constr(max_length=100) | None = Field(None, alias="webhookId")
    disabled: bool | None = None
    retry_on_fail: bool | None = Field(None, alias="retryOnFail")
    max_tries: conint(ge=1, le=11) | None = Field(None, alias="maxTries")
    wait_between_tries: conint(ge=0, le=300000) | None = Field(
        None, alias="waitBetweenTries"
    )
    continue_on_fail: bool | None = Field(None, alias="continueOnFail")
    on_error: constr(max_length=50) | None = Field(None, alias="onError")
    notes: constr(max_length=5000) | None = None


class N8nRetryBody(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    load_workflow: bool | None = Field(
        None,
        alias="loadWorkflow",
        description="n8n's option; a retry here runs the version that failed",
    )


class N8nStatus(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: str = Field(
        ..., description="ok, or error when the database does not answer"
    )


class N8nWebhookError(BaseModel):
    """
    n8n's error body on its webhook URLs.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    code: int
    message: str
    hint: str | None = Field(
        None, description="what to do (an unknown or inactive webhook)"
    )


class N8nWorkflow(BaseModel):
    """
    A workflow in n8n's shape (read-only fields included).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(max_length=200)
    nodes: list[dict[str, Any]]
    connections: dict[str, Any]
    settings: dict[str, Any]
    static_data: dict[str, Any] | None = Field(None, alias="staticData")
    pin_data: dict[str, Any] | None = Field(
        None,
        alias="pinData",
        description="kept and shown; runs ignore it, as n8n's production runs do",
    )
    description: constr(max_length=5000) | None = None
    id: str
    active: bool
    is_archived: bool = Field(..., alias="isArchived")
    created_at: str = Field(..., alias="createdAt")
    updated_at: str = Field(..., alias="updatedAt")
    version_id: str = Field(..., alias="versionId")
    trigger_count: int = Field(..., alias="triggerCount")
    tags: list[dict[str, str]]
    meta: dict[str, Any] | None


class N8nWorkflowBody(BaseModel):
    """
    A workflow as n8n exports it (checked as n8n's API checks it: checked_workflow).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(max_length=200)
    nodes: list[N8nNode] = Field(..., max_length=500)
    connections: dict[str, Any] = Field(
        ...,
        description='{"Node": {"main": [[{"node": "Next", "type": "main", "index": 0}]]}}: by output, then target',
    )
    settings: dict[str, Any] = Field(
        ...,
        description="executionOrder, timezone (schedule triggers), executionTimeout (seconds), errorWorkflow, ...",
    )
    static_data: dict[str, Any] | None = Field(None, alias="staticData")
    pin_data: dict[str, Any] | None = Field(
        None,
        alias="pinData",
        description="kept and shown; runs ignore it, as n8n's production runs do",
    )
    description: constr(max_length=5000) | None = None


class N8nWorkflowList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    data: list[N8nWorkflow]
    next_cursor: str | None = Field(
        ...,
        alias="nextCursor",
        description="opaque: pass it as `cursor` for the next page; null on the last",
    )


class NamedFunction(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(pattern=r"^[a-zA-Z0-9_-]{1,64}$", max_length=64)


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal["function"] = "function"
    function: NamedFunction


class NodePort(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(pattern=r"^[a-z][a-z0-9_]{0,31}$", max_length=32)
    name: constr(max_length=100) | None = None
    type: constr(pattern=r"^[a-z][a-z0-9_]{0,31}$", max_length=32) | None = "any"


class NodeSettings(BaseModel):
    """
    Per-node behaviour (n8n's "retry on fail" and "continue on fail").
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    retries: conint(ge=0, le=10) | None = 0
    retry_backoff_seconds: confloat(ge=0.0, le=300.0) | None = 1.0
    timeout_seconds: confloat(le=3600.0, gt=0.0) | None = 60
    continue_on_error: bool | None = False


class NodeType(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: str
    aliases: list[str]
    description: str
    plugin: str
    inputs: list[str]
    outputs: list[str]
    config_schema: dict[str, Any]


class NodeTypeList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    node_types: list[NodeType]
    missing: dict[str, str] = Field(
        ..., description="seed node types whose plugin is not enabled: type -> plugin"
    )


class NotificationOut(BaseModel):
    """
    Seed 002's list item, plus what the Hub knows of its delivery.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    user_id: str
    title: str
    message: str
    type: str
    channel: str
    priority: str
    metadata: dict[str, Any]
    is_read: bool
    read_at: AwareDatetime | None
    delivery: str = Field(
        ...,
        description="delivered (in_app: stored and pushed) | queued (handed to messaging or Slack) | sent (to the provider) | delivered (the provider reported it) | digest | digested | suppressed | failed",
    )
    message_id: str | None = Field(
        ..., description="the messaging plugin's message (email, sms)"
    )
    error: str | None
    created_at: AwareDatetime


class NotificationRequest(BaseModel):
    """
    Seed 002's Send Notification body (`user_id`: a member of the caller's organization;
    left out: the caller), plus `priority` (urgent ones skip the digest).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: UUID | None = None
    title: constr(min_length=1, max_length=200)
    message: constr(min_length=1, max_length=5000)
    type: constr(pattern=r"^[a-z][a-z0-9_.-]*$", min_length=1, max_length=50) | None = (
        Field("info", description="info, lead, message, system, ... (lower case)")
    )
    channel: Literal["in_app", "email", "sms", "slack"] | None = "in_app"
    priority: Literal["normal", "urgent"] | None = "normal"
    metadata: (
        dict[
            constr(min_length=1, max_length=64),
            constr(max_length=1000)
            | conint(ge=-9007199254740992, le=9007199254740992)
            | confloat(ge=-1000000000000000.0, le=1000000000000000.0)
            | bool
            | None,
        ]
        | None
    ) = Field(None, max_length=50)


class OpenAIErrorBody(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    message: str
    type: str
    param: str | None
    code: str
    request_id: str | None


class OverallPerformance(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_cost: float = Field(..., alias="totalCost")
    total_savings: float = Field(..., alias="totalSavings")
    automation_rate: float = Field(..., alias="automationRate")


class Pagination(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    limit: int
    offset: int
    has_more: bool


class PagingIn(BaseModel):
    """
    Custom: how the dealer system's lists page (see adapters.Paging).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    style: Literal["links", "offset", "page", "cursor"] | None = "page"
    items_path: constr(max_length=200) | None = "items"
    size_param: constr(min_length=1, max_length=64) | None = "limit"
    page_param: constr(min_length=1, max_length=64) | None = "page"
    offset_param: constr(min_length=1, max_length=64) | None = "offset"
    cursor_param: constr(min_length=1, max_length=64) | None = "cursor"
    next_path: (
        constr(pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$", max_length=200)
        | None
    ) = "next"
    total_pages_path: (
        constr(pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$", max_length=200)
        | None
    ) = None
    since_param: constr(min_length=1, max_length=64) | None = "updated_since"


class ParameterOption(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    value: Any
    label: constr(max_length=200)
    description: constr(max_length=1000) | None = None


class ParameterRule(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    rule: Literal["min", "max", "min_length", "max_length", "pattern"]
    value: float | int | str
    message: constr(max_length=500) | None = None


class PerformanceOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_interactions: int = Field(..., alias="totalInteractions")
    success_rate: float = Field(..., alias="successRate")
    avg_response_time: float = Field(..., alias="avgResponseTime")


class PlanAssigned(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plan: str
    previous_plan: str
    subscription_id: str


class PlanAssignment(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plan: constr(min_length=1, max_length=32) = Field(
        ..., description="a plan of GET /api/v1/plans"
    )


class PlanLimits(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    requests_per_hour: int | None
    websocket_connections: int | None
    ai_agent_calls_per_day: int | None
    api_calls: int | None
    workflow_executions: int | None
    ai_api_calls: int | None
    ai_tokens: int | None
    storage_mb: int | None
    collaborators: int | None
    recommendations_per_month: int | None


class PlanOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    description: str
    price_monthly_cents: int | None
    currency: str
    purchasable: bool
    current: bool
    limits: PlanLimits


class PluginResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: str
    version: str
    source: str
    mount: str
    hooks: list[str]
    requires: list[str]
    enabled: bool
    can_be_disabled: bool


class PluginUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    enabled: bool


class Position1(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    x: confloat(ge=-1000000.0, le=1000000.0) | None = 0
    y: confloat(ge=-1000000.0, le=1000000.0) | None = 0


class PostOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    source: str
    rule_id: str | None
    event_id: str | None
    channel: str | None
    text: str
    status: Literal["queued", "sent", "failed"]
    error: str | None
    attempts: int
    slack_ts: str | None
    job_id: str | None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None


class PostRequest(BaseModel):
    """
    A message to post now (queued; the `slack.post` job sends it, retrying passing failures).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    text: constr(min_length=1, max_length=40000)
    channel: (
        constr(pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", max_length=81) | None
    ) = None


class Preferences(BaseModel):
    """
    Seed 002's preferences, plus the SMS number, Slack, the digest and per-type switches.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email_enabled: bool
    in_app_enabled: bool
    sms_enabled: bool
    phone: str | None
    slack_enabled: bool
    slack_channel: str | None = Field(
        ..., description="where slack notifications go; null: Slack's default channel"
    )
    digest: bool
    types: dict[str, dict[str, bool]] = Field(
        ..., description="per type, the channels switched off: {lead: {email: false}}"
    )


class ProjectOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    project_uuid: str = Field(..., alias="projectUuid")
    name: str
    organization_uuid: str = Field(..., alias="organizationUuid")
    explores: list[str]
    metrics: int


class ProjectsOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    projects: list[ProjectOut]
    total: int


class PublicRecommendation(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: str
    score: float


class PublicRecommendationMeta(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model_version: str
    latency_ms: float
    cache_hit: bool
    fallback: Literal["popular"] | None


class PublicRecommendations(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    recommendations: list[PublicRecommendation]
    metadata: PublicRecommendationMeta


class RateLimit(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    requests_per_minute: conint(ge=1, le=60000) | None = 60
    burst_size: conint(ge=1, le=10000) | None = 10


class ReadyResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    ready: bool


class RecommendationFilters(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    categories: list[constr(min_length=1, max_length=64)] | None = Field(
        None, max_length=100
    )
    min_score: confloat(ge=-1000000000.0, le=1000000000.0) | None = None
    exclude_ids: list[constr(min_length=1, max_length=128)] | None = Field(
        None, max_length=1000
    )


class RecommendationMetadata(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    category: str | None
    created_at: str | None


class RecordOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    external_id: str
    connection_id: str
    dms_customer_id: str | None
    vin: str | None
    status: str | None
    date: str | None
    data: dict[str, Any]
    lead_id: str | None = None
    last_updated: str | None


DeliveryIds = TypeAliasType(
    "DeliveryIds", Annotated[list[UUID], Field(max_length=100, min_length=1)]
)


class Redeliver(BaseModel):
    """
    Send deliveries of this webhook again, as new deliveries: the listed ones, or every
    failed one (up to 1,000, oldest first).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    delivery_ids: DeliveryIds | None = None
    all_failed: bool | None = False


class Redelivered(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    redelivered: int
    deliveries: list[UUID]


class RefreshConfiguration(BaseModel):
    """
    OAuth2: where tokens come from (a path of base_url or an absolute URL, SSRF-checked).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    token_url: constr(max_length=500) | None = "/oauth/token"


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    refresh_token: constr(min_length=1, max_length=512)


class RefreshResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email: EmailStr
    password: constr(min_length=8, max_length=256)
    first_name: constr(min_length=1, max_length=100)
    last_name: constr(min_length=1, max_length=100)
    organization_name: constr(min_length=1, max_length=200) | None = None


class RequestContext(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    device_type: Literal["mobile", "desktop", "tablet"] | None = None
    location: constr(max_length=200) | None = None
    session_id: constr(max_length=200) | None = None


class RerunRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    from_node_id: constr(max_length=64) | None = Field(
        None, description="default: the first failed step"
    )


class RuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    event_type: constr(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", min_length=3, max_length=100
    ) = Field(
        ..., description="an event type of the catalogue (GET /api/v1/events/types)"
    )
    channel: (
        constr(pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", max_length=81) | None
    ) = None
    template: constr(min_length=1, max_length=10000) | None = Field(
        "*{{ event.type }}*",
        description="Jinja2: `event` (type, id, timestamp) and `data` (the event's data), e.g. 'New lead: *{{ data.name }}*'; printed values are escaped for Slack",
    )
    enabled: bool | None = True


class RuleOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    event_type: str
    channel: str | None
    template: str
    enabled: bool
    created_by: str | None
    last_posted_at: AwareDatetime | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class RulePreview(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    text: str
    channel: str | None


class RulePreviewRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    data: dict[str, Any] | None = Field(
        None, description="an example of the event's data", max_length=200
    )


class RuleUpdate(BaseModel):
    """
    Only the fields given change; `channel: null` goes back to the default channel.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    event_type: (
        constr(
            pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
            min_length=3,
            max_length=100,
        )
        | None
    ) = None
    channel: (
        constr(pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", max_length=81) | None
    ) = None
    template: constr(min_length=1, max_length=10000) | None = None
    enabled: bool | None = None


class RunError(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    code: str
    message: str


class RunInfo(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    status: Literal["running", "succeeded", "partial", "failed"]
    steps: int
    latency_ms: float = Field(..., alias="latencyMs")
    withheld_capabilities: list[str] = Field(..., alias="withheldCapabilities")
    error: RunError | None


class SecretRotate(BaseModel):
    """
    Optional body: without `secret`, a new one is generated.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    secret: constr(min_length=16, max_length=255) | None = None


class SendGridEvent(BaseModel):
    """
    One event of SendGrid's Event Webhook (the fields the Hub reads; the array is signed whole).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email: constr(max_length=320)
    event: constr(max_length=50) = Field(
        ...,
        description="delivered, bounce, dropped, spamreport, unsubscribe, group_unsubscribe, ...",
    )
    timestamp: conint(ge=0, le=1099511627776)
    sg_message_id: constr(max_length=255) | None = None
    type: constr(max_length=20) | None = Field(
        None, description="a bounce's kind: bounce or blocked"
    )
    reason: constr(max_length=2000) | None = Field(
        None,
        description="the provider's reason (the message's history keeps 200 characters)",
    )
    hub_message_id: constr(max_length=64) | None = Field(
        None, description="the custom arg the Hub sends with each email"
    )


class SmsRequest1(BaseModel):
    """
    Seed 001's SMSRequest; `message` or a template.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    provider: Literal["twilio", "aws_sns", "messagebird"] | None = Field(
        "twilio", description="the organization's connected integration"
    )
    to: constr(pattern=r"^\+[1-9][0-9 ()-]{6,22}$", min_length=8, max_length=24)
    from_: (
        constr(pattern=r"^\+[1-9][0-9 ()-]{6,22}$", min_length=8, max_length=24) | None
    ) = Field(
        None, alias="from", description="default: the Twilio integration's number"
    )
    message: constr(min_length=1, max_length=1600) | None
    media_urls: list[constr(pattern=r"^https://[^\s]+$", max_length=2000)] | None = (
        Field(None, max_length=10)
    )
    template_id: UUID | None = None
    template_data: dict[str, Any] | None = None


class SmsRequest2(BaseModel):
    """
    Seed 001's SMSRequest; `message` or a template.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    provider: Literal["twilio", "aws_sns", "messagebird"] | None = Field(
        "twilio", description="the organization's connected integration"
    )
    to: constr(pattern=r"^\+[1-9][0-9 ()-]{6,22}$", min_length=8, max_length=24)
    from_: (
        constr(pattern=r"^\+[1-9][0-9 ()-]{6,22}$", min_length=8, max_length=24) | None
    ) = Field(
        None, alias="from", description="default: the Twilio integration's number"
    )
    message: constr(min_length=1, max_length=1600) | None = None
    media_urls: list[constr(pattern=r"^https://[^\s]+$", max_length=2000)] | None = (
        Field(None, max_length=10)
    )
    template_id: UUID | None
    template_data: dict[str, Any] | None = None


class SmsRequest(RootModel[SmsRequest1 | SmsRequest2]):
    root: SmsRequest1 | SmsRequest2 = Field(
        ...,
        description="Seed 001's SMSRequest; `message` or a template.",
        title="SmsRequest",
    )


class SnsMessage(BaseModel):
    """
    An SNS message as SNS posts it (Content-Type text/plain, a JSON body).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal[
        "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"
    ] = Field(..., alias="Type")
    message_id: constr(max_length=100) = Field(..., alias="MessageId")
    topic_arn: constr(max_length=256) = Field(..., alias="TopicArn")
    message: constr(max_length=262144) = Field(
        ..., alias="Message", description="SNS's own limit: 256 KiB"
    )
    timestamp: constr(max_length=40) = Field(..., alias="Timestamp")
    signature_version: Literal["1", "2"] = Field(..., alias="SignatureVersion")
    signature: constr(max_length=2048) = Field(..., alias="Signature")
    signing_cert_url: constr(max_length=2048) = Field(..., alias="SigningCertURL")
    subject: constr(max_length=100) | None = Field(
        None, alias="Subject", description="SNS's own limit"
    )
    subscribe_url: constr(max_length=2048) | None = Field(None, alias="SubscribeURL")
    token: constr(max_length=2048) | None = Field(None, alias="Token")


class SnsReceived(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    received: bool
    type: str
    applied: int | None = 0


class Sort(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    field_id: constr(max_length=200) = Field(..., alias="fieldId")
    descending: bool | None = False
    nulls_first: bool | None = Field(None, alias="nullsFirst")


class StorageOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    used_bytes: int
    limit_bytes: int | None = Field(
        ..., description="the plan's storage_mb in bytes; null: unlimited"
    )


class StreamOptions(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    include_usage: bool | None = False


class StripeEventBody(BaseModel):
    """
    A Stripe event (`{"id": "evt_...", "type": ..., "data": {"object": ...}}`), read as the
    raw bytes Stripe signed, up to the Hub's body limit.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )


class SubscriptionCancel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    at_period_end: bool | None = Field(
        True, description="true: at the end of the paid period; false: now"
    )


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plan: constr(min_length=1, max_length=32) = Field(
        ..., description="a plan of GET /api/v1/plans"
    )


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plan: constr(min_length=1, max_length=32) = Field(
        ..., description="a plan of GET /api/v1/plans"
    )
    payment_method_id: constr(min_length=1, max_length=255) = Field(
        ..., description="a Stripe PaymentMethod (pm_...) collected by Stripe.js"
    )


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    provider: str
    stripe_subscription_id: str | None
    plan: str
    status: str
    cancel_at_period_end: bool
    current_period_start: str | None
    current_period_end: str | None
    canceled_at: str | None
    past_due_since: str | None
    created_at: str
    updated_at: str


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    address: constr(min_length=3, max_length=320) = Field(
        ..., description="an email address or a phone number (E.164)"
    )
    detail: constr(max_length=500) | None = ""


class SuppressionOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    address: str
    reason: Literal["bounce", "complaint", "unsubscribe", "manual"]
    provider: str | None
    message_id: str | None
    detail: str
    created_at: AwareDatetime


Resources = TypeAliasType(
    "Resources",
    Annotated[
        list[
            Literal[
                "customers",
                "vehicles",
                "service_appointments",
                "sales_opportunities",
                "inventory",
            ]
        ],
        Field(
            description="the resources to sync (all the connection has endpoints for when left out)",
            max_length=5,
        ),
    ],
)


class SyncRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    mode: Literal["full", "incremental"] | None = "incremental"
    resources: Resources | None = Field(
        None,
        description="the resources to sync (all the connection has endpoints for when left out)",
    )


class SyncRunOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    connection_id: str
    mode: Literal["full", "incremental"]
    trigger: Literal["manual", "scheduled"]
    status: Literal["pending", "running", "completed", "failed"]
    job_id: str | None
    since: str | None
    resources: list[str]
    counts: dict[str, dict[str, int]]
    errors: list[dict[str, Any]]
    pages: int
    started_at: str | None
    finished_at: str | None
    created_at: str


class TemplateCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    channel: Literal["email", "sms"] | None = "email"
    description: constr(max_length=1000) | None = ""
    subject: constr(max_length=2000) | None = None
    html: constr(max_length=1000000) | None = None
    text: constr(max_length=1000000) | None = None


class TemplateOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    channel: Literal["email", "sms"]
    description: str
    subject: str | None
    html: str | None
    text: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class TemplateParameter(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", max_length=64)
    type: Literal["string", "number", "boolean", "select", "multiselect"]
    label: constr(max_length=200)
    description: constr(max_length=1000) | None = None
    required: bool | None = False
    default_value: Any | None = None
    options: list[ParameterOption] | None = Field(None, max_length=100)
    validation: list[ParameterRule] | None = Field(None, max_length=20)


class TemplatePreview(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    subject: str | None
    html: str | None
    text: str | None


class TemplatePreviewRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    template_data: dict[str, Any] | None = None


class TemplateReview(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: str | None = Field(
        ...,
        description="the reviewer, when of your organization (others are not named)",
    )
    rating: int
    comment: str | None
    created_at: str
    updated_at: str


class TemplateReviewRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    rating: conint(ge=1, le=5)
    comment: constr(max_length=2000) | None = None


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    description: constr(max_length=1000) | None = None
    subject: constr(max_length=2000) | None = None
    html: constr(max_length=1000000) | None = None
    text: constr(max_length=1000000) | None = None


class TenantResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    tenant_id: UUID
    name: str
    plan: str
    status: Literal["active", "suspended"]
    created_at: AwareDatetime
    settings: dict[str, Any]


class TenantSettingsOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    repurchase: Literal["auto", "always", "never"]
    allow_repurchase: bool
    repeat_purchase_rate: float | None
    repurchase_decision: Literal["always", "never"] | None
    default_model_type: Literal["matrix_factorization", "two_tower"]
    embedding_dimension: int | None


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    repurchase: Literal["auto", "always", "never"] | None = None
    allow_repurchase: bool | None = None
    default_model_type: Literal["matrix_factorization", "two_tower"] | None = None
    embedding_dimension: conint(ge=8, le=1024) | None = None


class TenantUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    settings: dict[str, Any] | None = None


class TestDelivery(BaseModel):
    """
    Optional body: the event type and data of the test delivery.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    event: (
        constr(
            pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", min_length=1, max_length=100
        )
        | None
    ) = "webhook.test"
    data: dict[str, Any] | None = None


Config2 = TypeAliasType(
    "Config2",
    Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=100)],
)


class TestRequest(BaseModel):
    """
    Optional: credentials (and config) to test instead of the stored ones; nothing is stored.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    credentials: (
        dict[constr(min_length=1, max_length=64), constr(max_length=4096)] | None
    ) = None
    config: (
        dict[
            constr(min_length=1, max_length=64),
            constr(max_length=2048)
            | conint(ge=-1000000000000, le=1000000000000)
            | bool
            | Config2
            | None,
        ]
        | None
    ) = None


class TestResult(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    ok: bool
    status: Literal["connected", "error"]
    error: str | None = None
    latency_ms: float | None = None


class ThemeOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str | None = Field(
        ..., description="null until the organization's admin first saves a theme"
    )
    organization_id: str
    name: str
    logo_url: str | None = Field(
        ..., description="the Hub's URL of the uploaded logo (GET .../logo), or null"
    )
    primary_color: str
    secondary_color: str
    accent_color: str
    background_color: str
    text_color: str
    font_family: str
    heading_font_family: str
    custom_css: str
    is_active: bool
    css_url: str = Field(..., description="the generated stylesheet (GET .../css)")
    created_at: str | None
    updated_at: str | None


class ThemeSaved(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str | None = Field(
        ..., description="null until the organization's admin first saves a theme"
    )
    organization_id: str
    name: str
    logo_url: str | None = Field(
        ..., description="the Hub's URL of the uploaded logo (GET .../logo), or null"
    )
    primary_color: str
    secondary_color: str
    accent_color: str
    background_color: str
    text_color: str
    font_family: str
    heading_font_family: str
    custom_css: str
    is_active: bool
    css_url: str = Field(..., description="the generated stylesheet (GET .../css)")
    created_at: str | None
    updated_at: str | None
    css_removed: list[str] = Field(
        ...,
        description="what custom_css lost to the allowlist, and why (empty: nothing)",
    )


class ThemeUpdate(BaseModel):
    """
    What PUT changes: only the fields sent (null puts a field back to its default).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=100) | None = None
    primary_color: constr(max_length=64) | None = Field(
        None,
        description="the main brand color: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or hsl(0-360, 0-100%, 0-100%[, alpha 0-1]); null: the default",
    )
    secondary_color: constr(max_length=64) | None = Field(
        None,
        description="the second color: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or hsl(0-360, 0-100%, 0-100%[, alpha 0-1]); null: the default",
    )
    accent_color: constr(max_length=64) | None = Field(
        None,
        description="highlights: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or hsl(0-360, 0-100%, 0-100%[, alpha 0-1]); null: the default",
    )
    background_color: constr(max_length=64) | None = Field(
        None,
        description="the page's background: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or hsl(0-360, 0-100%, 0-100%[, alpha 0-1]); null: the default",
    )
    text_color: constr(max_length=64) | None = Field(
        None,
        description="the body text: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(0-255, 0-255, 0-255[, alpha 0-1]) or hsl(0-360, 0-100%, 0-100%[, alpha 0-1]); null: the default",
    )
    font_family: constr(max_length=200) | None = Field(
        None,
        description='the body text\'s fonts: font families separated by commas, e.g. "Inter", sans-serif; null: the default',
    )
    heading_font_family: constr(max_length=200) | None = Field(
        None,
        description='the headings\' fonts: font families separated by commas, e.g. "Inter", sans-serif; null: the default',
    )
    custom_css: constr(max_length=50000) | None = Field(
        None,
        description="CSS added after the generated custom properties, rebuilt from an allowlist (colors, fonts, spacing, borders, backgrounds, sizes; @media; url() only to a path on the Hub): what is dropped is listed in the answer's `css_removed`",
    )
    is_active: bool | None = Field(
        None, description="false: GET .../css serves the default theme"
    )


class TicketCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    title: constr(min_length=1, max_length=200)
    description: constr(min_length=1, max_length=50000)
    priority: Literal["low", "medium", "high", "urgent"] | None = "medium"
    category: constr(min_length=1, max_length=50) | None = None


class TicketDetail(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    organization_id: str
    user_id: str
    title: str
    description: str
    status: Literal["open", "in_progress", "resolved", "closed"]
    priority: Literal["low", "medium", "high", "urgent"]
    category: str | None
    assigned_to: str | None
    first_response_due_at: AwareDatetime | None
    resolution_due_at: AwareDatetime | None
    first_responded_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    sla_breached: list[Literal["first_response", "resolution"]]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    comments: list[CommentOut]
    attachments: list[AttachmentOut]


class TicketOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    organization_id: str
    user_id: str
    title: str
    description: str
    status: Literal["open", "in_progress", "resolved", "closed"]
    priority: Literal["low", "medium", "high", "urgent"]
    category: str | None
    assigned_to: str | None
    first_response_due_at: AwareDatetime | None
    resolution_due_at: AwareDatetime | None
    first_responded_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    sla_breached: list[Literal["first_response", "resolution"]]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class TicketUpdate(BaseModel):
    """
    What staff change; `assigned_to: null` unassigns.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: Literal["open", "in_progress", "resolved", "closed"] | None = None
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    assigned_to: UUID | None = Field(
        None, description="an active member of the organization, or null"
    )


class Tool(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ToolCallFunction(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(max_length=64)
    arguments: constr(max_length=200000) | dict[str, Any] | None = "{}"


class TrainingAccepted(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    job_id: str
    status: Literal["queued", "running", "completed", "failed"]
    estimated_duration_minutes: float
    model_version: str


class TrainingConfig(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model_type: Literal["matrix_factorization", "two_tower", "gnn"] | None = None
    hyperparameters: Hyperparameters | None = None
    data_range: DataRange | None = None
    force: bool | None = False


class TrainingRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    training_config: TrainingConfig | None = None


class TwilioStatusCallback(BaseModel):
    """
    The form Twilio posts to a message's StatusCallback (the fields the Hub reads; Twilio
    sends more, all covered by its X-Twilio-Signature).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    message_sid: constr(max_length=64) = Field(..., alias="MessageSid")
    account_sid: constr(max_length=64) = Field(..., alias="AccountSid")
    message_status: constr(max_length=32) = Field(..., alias="MessageStatus")
    error_code: constr(max_length=16) | None = Field(None, alias="ErrorCode")


class TypePreference(BaseModel):
    """
    One notification type's channels: a channel set to false is off for that type.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    in_app: bool | None = None
    email: bool | None = None
    sms: bool | None = None
    slack: bool | None = None


class UnreadCount(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    unread: int
    total: int


class Unsupported(BaseModel):
    """
    Table calculations, custom dimensions and additional metrics: refused (400) when sent.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(max_length=200) | None = None


class UsageLimit(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    limit: int | None
    used: int | None
    remaining: int | None
    percentage_used: float | None
    period: str


class UsageMetrics(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    api_calls: int
    recommendations_served: int
    items_indexed: int
    average_latency_ms: float


class UsageOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    input_tokens: int = Field(..., alias="inputTokens")
    output_tokens: int = Field(..., alias="outputTokens")
    total_cost: float = Field(..., alias="totalCost")


class UsagePeriod(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    start: date_aliased
    end: date_aliased


class UsageQuota(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    api_calls_limit: int | None
    api_calls_used: int
    percentage_used: float


class UsageResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    period: UsagePeriod
    metrics: UsageMetrics
    quota: UsageQuota
    plan: str
    limits: dict[str, UsageLimit]


class UserResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    email: str
    name: str
    first_name: str
    last_name: str
    role: Literal["admin", "developer", "member", "viewer"]
    permissions: list[str]
    organization_id: UUID
    tenant_id: UUID
    is_active: bool
    created_at: AwareDatetime


class ValidationProblem(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    index: int
    item_id: Any | None = None
    user_id: Any | None = None
    error: str


class ValidationRule(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    rule: constr(max_length=100) = Field(
        ..., description="e.g. required, min_length, pattern"
    )
    value: Any | None = None
    message: constr(max_length=500) | None = None


class VehicleOut(BaseModel):
    """
    seed 001 Vehicle, and where it came from.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    dms_vehicle_id: str
    vin: str
    vin_valid: bool
    year: int | None
    make: str
    model: str
    trim: str | None
    mileage: int | None
    purchase_date: str | None
    last_service_date: str | None
    service_due_date: str | None
    dms_customer_id: str | None
    connection_id: str
    id: str


class WebhookBody(BaseModel):
    """
    Any body the workflow expects: JSON, a form or text (the Webhook node's `body`), up to
    [plugins.n8n] webhook_max_body_bytes.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    url: constr(min_length=1, max_length=2048)
    events: list[constr(max_length=100)] = Field(
        ..., description='event types, "*" or "prefix.*"', max_length=100, min_length=1
    )
    secret: constr(min_length=16, max_length=255) | None = Field(
        None, description="HMAC key; generated (and shown once) when omitted"
    )
    description: constr(max_length=255) | None = ""
    is_active: bool | None = True


class WebhookCreated(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    organization_id: UUID
    url: str
    events: list[str]
    is_active: bool
    description: str
    secret_hint: str
    created_by: UUID | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    secret: str = Field(
        ..., description="The signing secret. Shown only in this response."
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: UUID
    organization_id: UUID
    url: str
    events: list[str]
    is_active: bool
    description: str
    secret_hint: str
    created_by: UUID | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class WebhookReceived(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    received: bool
    duplicate: bool


Events = TypeAliasType(
    "Events",
    Annotated[
        list[Annotated[str, Field(max_length=100)]], Field(max_length=100, min_length=1)
    ],
)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    url: constr(min_length=1, max_length=2048) | None = None
    events: Events | None = None
    secret: constr(min_length=16, max_length=255) | None = None
    description: constr(max_length=255) | None = None
    is_active: bool | None = None


class WorkerJob(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    organization_id: str
    user_id: str | None
    job_type: str
    status: str
    priority: int
    progress: int
    input_data: Any
    output_data: Any
    error: str | None
    attempts: int
    cancel_requested: bool
    created_at: AwareDatetime | None
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None


class WorkerMetrics(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    total_jobs: int
    pending_jobs: int
    running_jobs: int
    completed_jobs: int
    failed_jobs: int
    avg_execution_time_seconds: float


class WorkersExecuteRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    workflow_type: constr(min_length=1, max_length=100) = Field(
        ..., description="A registered job type, or a Hub workflow's name or id"
    )
    input_data: dict[str, Any] | None = None
    priority: conint(ge=1, le=10) | None = Field(
        5, description="1 (lowest) to 10 (most urgent)"
    )


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    description: str | None
    category: str | None
    version: int
    organization_id: str
    created_by: str | None
    created_at: str
    updated_at: str
    is_active: bool
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    variables: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    settings: dict[str, Any]


class WorkflowEdge(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$", max_length=64)
    source_node_id: constr(max_length=64)
    source_port: constr(max_length=32) | None = "main"
    target_node_id: constr(max_length=64)
    target_port: constr(max_length=32) | None = "main"
    type: Literal["data", "control", "conditional"] | None = "data"
    condition: constr(max_length=2000) | None = None


class WorkflowExecution(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    workflow_id: str
    workflow_version: int
    status: Literal["pending", "running", "completed", "failed", "cancelled", "timeout"]
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None = None
    error_message: str | None = None
    progress: int
    started_at: str | None = None
    completed_at: str | None = None
    created_by: str | None
    created_at: str
    rerun_of: str | None = None
    steps: list[ExecutionStep]
    metrics: ExecutionMetrics


class WorkflowNode(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$", max_length=64)
    type: constr(min_length=1, max_length=100)
    position: Position1 | None = Field({"x": 0.0, "y": 0.0}, validate_default=True)
    title: constr(max_length=200) | None = ""
    description: constr(max_length=2000) | None = None
    config: dict[str, Any] | None = None
    inputs: list[NodePort] | None = Field(None, max_length=32)
    outputs: list[NodePort] | None = Field(None, max_length=32)
    validation: list[ValidationRule] | None = Field(None, max_length=50)
    settings: NodeSettings | None = Field(
        {
            "retries": 0,
            "retry_backoff_seconds": 1.0,
            "timeout_seconds": 60.0,
            "continue_on_error": False,
        },
        validate_default=True,
    )


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    timeout_seconds: conint(ge=1, le=86400) | None = 3600
    max_concurrency: conint(ge=1, le=32) | None = Field(
        4, description="steps of one execution running at once"
    )
    error_workflow_id: UUID | None = Field(
        None, description="started with the details of a failed execution"
    )


class WorkflowSummary(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    description: str | None
    category: str | None
    version: int
    is_active: bool
    node_count: int
    created_by: str | None
    created_at: str
    updated_at: str


class WorkflowTemplate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    description: str
    category: str
    tags: list[str]
    version: int
    is_public: bool
    built_in: bool
    organization_id: str | None
    created_by: str | None
    created_at: str
    updated_at: str
    definition: dict[str, Any]
    parameters: list[dict[str, Any]]
    preview_image: str | None
    usage_count: int
    rating: float
    reviews: list[TemplateReview]


class WorkflowTrigger(BaseModel):
    """
    `event`: `config` is `{"event_type": <a type of GET /api/v1/events/types>, "filter":
    {field: value}}` (optional): the workflow starts on each such event of its organization whose
    data has those values, with the data as input (event_triggers.py).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal["manual", "webhook", "schedule", "event"]
    config: dict[str, Any] | None = None


class WorkflowVariable(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", max_length=64)
    type: Literal["string", "number", "boolean", "object", "array"] | None = "string"
    default_value: Any | None = None
    description: constr(max_length=1000) | None = None


class WorkflowsExecuteRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    inputs: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class AIChoice(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    index: int
    message: AIMessage
    finish_reason: Literal["stop", "length", "function_call"]


class AIPerformance(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    agents: list[AgentPerformance]
    overall: OverallPerformance


class AIProcessingRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model: constr(min_length=1, max_length=200)
    prompt: constr(min_length=1, max_length=200000)
    max_tokens: conint(ge=1, le=1048576) | None = None
    temperature: confloat(ge=0.0, le=2.0) | None = None
    functions: Functions | None = None
    function_call: Literal["auto", "none"] | NamedFunction | None = None
    context: Context | None = None


class AIProcessingResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[AIChoice]
    usage: CompletionUsage
    cost_estimate: float


class AchievementOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    title: str
    description: str
    category: str
    rarity: str
    unlocked_at: str | None = Field(..., alias="unlockedAt")
    progress: AchievementProgressOut


class AgentOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    name: str
    type: str
    status: Literal["active", "inactive"]
    capabilities: list[str]
    performance: PerformanceOut
    config: AgentConfigOut
    created_at: str = Field(..., alias="createdAt")
    updated_at: str = Field(..., alias="updatedAt")


class ApiKeyList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    keys: list[ApiKeySummary]


class Authentication(BaseModel):
    """
    seed 001 DMSAuthentication.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    type: Literal["api_key", "oauth2", "basic_auth"]
    credentials: dict[str, constr(min_length=1, max_length=4000)]
    refresh_configuration: RefreshConfiguration | None = None


Tools = TypeAliasType("Tools", Annotated[list[Tool], Field(max_length=128)])


Content = TypeAliasType("Content", Annotated[list[ContentPart], Field(max_length=1000)])


class CompanyList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    companies: list[CompanyOut]
    total: int | None = Field(
        ...,
        description="All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true",
    )
    pagination: CamelCursorPagination


class Configuration(BaseModel):
    """
    seed 001 DMSConfiguration. `api_version` is sent as the `Api-Version` header.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    base_url: constr(min_length=1, max_length=500)
    api_version: constr(min_length=1, max_length=32) | None = "v1"
    timeout_ms: conint(ge=100, le=300000) | None = 30000
    retry_attempts: conint(ge=0, le=10) | None = 3
    rate_limit: RateLimit | None = None


class ConnectionCreate(BaseModel):
    """
    seed 001 DMSIntegration, and a name, the sync schedule and, for `Custom`, the paging.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    provider: Literal["CDK", "Reynolds", "DealerSocket", "Custom"]
    configuration: Configuration
    authentication: Authentication
    endpoints: Endpoints | None = None
    field_mapping: (
        dict[
            Literal[
                "customers",
                "vehicles",
                "service_appointments",
                "sales_opportunities",
                "inventory",
            ],
            dict[
                str,
                constr(
                    pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$", max_length=200
                ),
            ],
        ]
        | None
    ) = None
    paging: PagingIn | None = None
    api_key_header: (
        constr(pattern=r"^[A-Za-z0-9-]+$", min_length=1, max_length=64) | None
    ) = "X-API-Key"
    sync_frequency: Literal["manual", "hourly", "daily"] | None = "manual"


class ConnectionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    connections: list[ConnectionOut]
    total: int | None
    pagination: Pagination


class ConnectionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200) | None = None
    configuration: Configuration | None = None
    authentication: Authentication | None = None
    endpoints: Endpoints | None = None
    field_mapping: (
        dict[
            Literal[
                "customers",
                "vehicles",
                "service_appointments",
                "sales_opportunities",
                "inventory",
            ],
            dict[
                str,
                constr(
                    pattern=r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$", max_length=200
                ),
            ],
        ]
        | None
    ) = None
    paging: PagingIn | None = None
    api_key_header: (
        constr(pattern=r"^[A-Za-z0-9-]+$", min_length=1, max_length=64) | None
    ) = None
    sync_frequency: Literal["manual", "hourly", "daily"] | None = None


class ContactList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    contacts: list[ContactOut]
    total: int | None = Field(
        ...,
        description="All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true",
    )
    pagination: CamelCursorPagination


class ConversationOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    lead_id: str = Field(..., alias="leadId")
    lead_name: str = Field(..., alias="leadName")
    last_message: LastMessage | None = Field(..., alias="lastMessage")
    unread_count: int = Field(..., alias="unreadCount")
    status: str


class CustomerOut(BaseModel):
    """
    seed 001 CustomerData, and the CRM contact it became.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    dms_customer_id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    address: Any
    preferences: Any
    vehicles: list[VehicleOut]
    last_updated: str | None
    connection_id: str
    contact_id: str | None
    id: str


class Dashboard(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    summary: DashboardSummary
    trends: DashboardTrends
    source_breakdown: dict[str, float] = Field(
        ..., alias="sourceBreakdown", description="Percent of all leads per source"
    )


class DeliveryList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    deliveries: list[DeliveryOut]
    total: int
    pagination: Pagination


class EventTypeList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    event_types: list[EventTypeOut]
    total: int
    pagination: Pagination


class ExecuteResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    run_id: str = Field(..., alias="runId")
    output: ExecuteOutput
    usage: UsageOut
    run: RunInfo


class ExecutionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    executions: list[ExecutionSummary]
    total: int | None
    pagination: Pagination


class FileList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    files: list[FileInfo]
    total: int
    pagination: Pagination
    storage: StorageOut


class FilterRule(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(max_length=200) | None = None
    target: FilterTarget
    operator: constr(max_length=40)
    values: (
        list[constr(max_length=1000) | confloat(ge=-1e18, le=1e18) | bool | None] | None
    ) = Field(None, max_length=500)


class IngestResult(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    accepted: int
    rejected: int
    validation_errors: list[ValidationProblem]


class IntegrationList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    integrations: list[IntegrationOut]
    total: int
    pagination: dict[str, Any]


class InteractionIngestResult(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    accepted: int
    rejected: int
    validation_errors: list[ValidationProblem]
    unknown_items: int
    unknown_item_ids: list[str]


class InternalRecommendation(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    item_id: str
    score: float
    embedding_distance: float | None
    metadata: RecommendationMetadata


class InternalRecommendationRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: constr(min_length=1, max_length=128)
    count: conint(ge=1, le=1000) | None = 10
    filters: RecommendationFilters | None = None
    context: RequestContext | None = None
    model_version: constr(min_length=1, max_length=32) | None = None
    tenant_id: constr(max_length=64)


class InternalRecommendations(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    request_id: str
    recommendations: list[InternalRecommendation]
    model_version: str
    latency_ms: float
    cache_hit: bool
    fallback: Literal["popular"] | None


class InternalTrainingRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    training_config: TrainingConfig | None = None
    tenant_id: constr(max_length=64)


class InvoiceList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    invoices: list[InvoiceOut]
    total: int
    pagination: Pagination


class ItemList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    items: list[ItemOut]
    total: int
    pagination: Pagination


class JobList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    jobs: list[JobResponse]
    total: int
    pagination: Pagination


class LeadList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    leads: list[LeadOut]
    total: int | None = Field(
        ...,
        description="All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true",
    )
    pagination: CamelCursorPagination


class LightdashErrorBody(BaseModel):
    """
    Lightdash's error body: `{"status": "error", "error": {statusCode, name, message}}`.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    status: str
    error: LightdashErrorDetail


class LoginResponse(BaseModel):
    """
    Seed 001 AuthTokens + seed 003 `user` + seed 004 `token`, in one body.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    token: str
    user: LoginUser


class MemberList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    members: list[MemberResponse]
    total: int
    pagination: Pagination


class MessageList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    messages: list[MessageOut]
    total: int | None = Field(
        ...,
        description="All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true",
    )
    pagination: CamelCursorPagination


class MessageToolCall(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(max_length=256) | None = ""
    type: Literal["function"] = "function"
    function: ToolCallFunction


class MessagingMessageList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    messages: list[MessageOut]
    total: int | None
    pagination: Pagination


class MessagingTemplateList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    templates: list[TemplateOut]
    total: int | None
    pagination: Pagination


CustomDimensions = TypeAliasType(
    "CustomDimensions", Annotated[list[Unsupported], Field(max_length=20)]
)


AdditionalMetrics = TypeAliasType(
    "AdditionalMetrics", Annotated[list[Unsupported], Field(max_length=20)]
)


class ModelVersionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    models: list[ModelVersionOut]
    total: int
    pagination: Pagination
    active_version: str | None


class N8nCredentialBody(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(max_length=200)
    type: Literal["httpBasicAuth", "httpHeaderAuth"]
    data: N8nCredentialData


class OpenAIError(BaseModel):
    """
    Errors under /v1 are OpenAI-shaped, so that OpenAI clients understand them.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    error: OpenAIErrorBody


class PlanList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plans: list[PlanOut]
    current_plan: str
    provider: str


class PluginList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    plugins: list[PluginResponse]
    total: int
    pagination: Pagination


class PostList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    messages: list[PostOut]
    total: int | None
    pagination: Pagination


class PreferencesUpdate(BaseModel):
    """
    Only the fields given change; `types` replaces the per-type switches.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    email_enabled: bool | None = None
    in_app_enabled: bool | None = None
    sms_enabled: bool | None = None
    phone: (
        constr(pattern=r"^\+[1-9][0-9 ()-]{6,22}$", min_length=8, max_length=24) | None
    ) = None
    slack_enabled: bool | None = None
    slack_channel: (
        constr(pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", max_length=81) | None
    ) = None
    digest: bool | None = None
    types: dict[constr(min_length=1, max_length=50), TypePreference] | None = None


class PublicRecommendationRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    user_id: constr(min_length=1, max_length=128)
    count: conint(ge=1, le=1000) | None = 10
    filters: RecommendationFilters | None = None
    context: RequestContext | None = None
    model_version: constr(min_length=1, max_length=32) | None = None


class RecordList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    records: list[RecordOut]
    total: int | None
    pagination: Pagination


class ResponseToolCall(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class RuleList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    rules: list[RuleOut]
    total: int | None
    pagination: Pagination


class RunOut(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    agent_id: str = Field(..., alias="agentId")
    status: str
    success: bool
    mode: str
    input: dict[str, Any]
    response: str | None
    actions: list[dict[str, Any]]
    steps: int
    usage: UsageOut
    latency_ms: float = Field(..., alias="latencyMs")
    error: RunError | None
    user_id: str | None = Field(..., alias="userId")
    created_at: str = Field(..., alias="createdAt")
    finished_at: str | None = Field(..., alias="finishedAt")


class SubscriptionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    subscriptions: list[SubscriptionOut]
    total: int
    pagination: Pagination


class SuppressionList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    suppressions: list[SuppressionOut]
    total: int | None
    pagination: Pagination


class SyncRunList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    syncs: list[SyncRunOut]
    total: int | None
    pagination: Pagination


class TemplateDefinition(BaseModel):
    """
    A workflow's graph, where `{{ params.<name> }}` stands for a parameter's value.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    nodes: list[WorkflowNode] | None = Field(None, max_length=500)
    edges: list[WorkflowEdge] | None = Field(None, max_length=2000)
    variables: list[WorkflowVariable] | None = Field(None, max_length=100)
    triggers: list[WorkflowTrigger] | None = Field(None, max_length=20)
    settings: WorkflowSettings | None = Field(
        {"timeout_seconds": 3600, "max_concurrency": 4, "error_workflow_id": None},
        validate_default=True,
    )


class TemplateList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    templates: list[WorkflowTemplate]
    total: int | None
    pagination: Pagination


class VehicleList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    vehicles: list[VehicleOut]
    total: int | None
    pagination: Pagination


class WebhookList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    webhooks: list[WebhookOut]
    total: int
    pagination: Pagination


class WorkflowCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    description: constr(max_length=5000) | None = None
    category: constr(max_length=100) | None = None
    is_active: bool | None = True
    nodes: list[WorkflowNode] | None = Field(None, max_length=500)
    edges: list[WorkflowEdge] | None = Field(None, max_length=2000)
    variables: list[WorkflowVariable] | None = Field(None, max_length=100)
    triggers: list[WorkflowTrigger] | None = Field(None, max_length=20)
    settings: WorkflowSettings | None = Field(
        {"timeout_seconds": 3600, "max_concurrency": 4, "error_workflow_id": None},
        validate_default=True,
    )


class WorkflowList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    workflows: list[WorkflowSummary]
    total: int | None
    pagination: Pagination


class WorkflowUpdateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    description: constr(max_length=5000) | None = None
    category: constr(max_length=100) | None = None
    is_active: bool | None = True
    nodes: list[WorkflowNode] | None = Field(None, max_length=500)
    edges: list[WorkflowEdge] | None = Field(None, max_length=2000)
    variables: list[WorkflowVariable] | None = Field(None, max_length=100)
    triggers: list[WorkflowTrigger] | None = Field(None, max_length=20)
    settings: WorkflowSettings | None = Field(
        {"timeout_seconds": 3600, "max_concurrency": 4, "error_workflow_id": None},
        validate_default=True,
    )
    expected_version: conint(ge=1, le=1000000000) | None = Field(
        None, description="the version you edited: a 409 if another was saved since"
    )


class AchievementList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    achievements: list[AchievementOut]
    progress: AchievementTotals


class AgentList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    agents: list[AgentOut]
    total: int
    pagination: CamelPagination


ToolCalls = TypeAliasType(
    "ToolCalls", Annotated[list[MessageToolCall], Field(max_length=128)]
)


class ChatMessage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: constr(max_length=200000) | Content | None = None
    name: constr(max_length=64) | None = None
    tool_calls: ToolCalls | None = None
    tool_call_id: constr(max_length=256) | None = None


class ConversationList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    conversations: list[ConversationOut]
    total: int | None = Field(
        ...,
        description="All matching rows: counted on offset pages (seed 004), null on cursor pages unless ?total=true",
    )
    pagination: CamelCursorPagination


class CustomerList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    customers: list[CustomerOut]
    total: int | None
    pagination: Pagination


And = TypeAliasType("And", Annotated[list[FilterRule], Field(max_length=50)])


Or = TypeAliasType("Or", Annotated[list[FilterRule], Field(max_length=50)])


class FilterGroup(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: constr(max_length=200) | None = None
    and_: And | None = Field(None, alias="and")
    or_: Or | None = Field(None, alias="or")


class Filters(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    dimensions: FilterGroup | None = None
    metrics: FilterGroup | None = None


class MetricQuery(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    explore_name: constr(max_length=200) = Field(..., alias="exploreName")
    dimensions: list[constr(max_length=200)] | None = Field(None, max_length=20)
    metrics: list[constr(max_length=200)] = Field(..., max_length=50)
    filters: Filters | None = None
    sorts: list[Sort] | None = Field(None, max_length=20)
    limit: conint(ge=1, le=1000000) | None = 500
    table_calculations: list[Unsupported] | None = Field(
        None, alias="tableCalculations", max_length=20
    )
    custom_dimensions: CustomDimensions | None = Field(None, alias="customDimensions")
    additional_metrics: AdditionalMetrics | None = Field(
        None, alias="additionalMetrics"
    )
    timezone: constr(max_length=64) | None = None


class MetricQueryBody(BaseModel):
    """
    Lightdash's `POST /api/v2/projects/{uuid}/query/metric-query` body.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    query: MetricQuery
    context: constr(max_length=64) | None = None
    invalidate_cache: bool | None = Field(None, alias="invalidateCache")


class ResponseMessage(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ResponseToolCall] | None = None


class RunList(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    runs: list[RunOut]
    total: int
    pagination: CamelPagination


class TemplateCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    name: constr(min_length=1, max_length=200)
    description: constr(max_length=5000) | None = ""
    category: constr(min_length=1, max_length=100)
    tags: list[constr(min_length=1, max_length=50)] | None = Field(None, max_length=20)
    is_public: bool | None = False
    definition: TemplateDefinition | None = Field(
        {
            "nodes": [],
            "edges": [],
            "variables": [],
            "triggers": [],
            "settings": {
                "error_workflow_id": None,
                "max_concurrency": 4,
                "timeout_seconds": 3600,
            },
        },
        validate_default=True,
    )
    parameters: list[TemplateParameter] | None = Field(None, max_length=50)
    preview_image: constr(pattern=r"^https://", max_length=2000) | None = Field(
        None, description="an https URL, shown as given"
    )


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    model: constr(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(..., max_length=1000, min_length=1)
    tools: Tools | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    temperature: confloat(ge=0.0, le=2.0) | None = None
    max_tokens: conint(ge=1, le=1048576) | None = None
    max_completion_tokens: conint(ge=1, le=1048576) | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: conint(ge=1, le=1) | None = 1
    user: constr(max_length=256) | None = None


class Choice(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = Field(None)


class ChatCompletion(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
