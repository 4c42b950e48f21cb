"""Request and response models of the analytics routes, for the OpenAPI document (the Lightdash
routes read their bodies themselves, so that a bad one is answered in Lightdash's error shape)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core import Blankable, CommaSeparated, Query


class MetricsQuery(Query):
    metric: Blankable[str] = Field(None, max_length=200)
    start: Blankable[str] = Field(None, alias="from", max_length=40)
    end: Blankable[str] = Field(None, alias="to", max_length=40)
    granularity: Blankable[str] = Field(None, max_length=10)
    group_by: CommaSeparated[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, alias="groupBy",
                                                                             max_length=8)
    filters: Blankable[str] = Field(None, max_length=4000)
    project_uuid: Blankable[str] = Field(None, alias="projectUuid", max_length=40)


class ResultsQuery(Query):
    page: Blankable[int] = Field(None, ge=1, le=1_000_000)
    page_size: Blankable[int] = Field(None, alias="pageSize", ge=1, le=100_000)


class ProjectOut(BaseModel):
    projectUuid: str
    name: str
    organizationUuid: str
    explores: list[str]
    metrics: int


class ProjectsOut(BaseModel):
    projects: list[ProjectOut]
    total: int


class DimensionOut(BaseModel):
    name: str
    label: str


class MetricOut(BaseModel):
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
    """The catalogue (`metrics`, `total`), or with `metric` one metric's values (`rows` of
    `{period, <dimension>..., value}`)."""

    model_config = ConfigDict(extra="allow")

    metrics: list[MetricOut] | None = None
    total: int | None = None
    metric: str | None = None
    label: str | None = None
    aggregate: str | None = None
    format: str | None = None
    granularity: str | None = None
    groupBy: list[str] | None = None
    rows: list[dict[str, Any]] | None = None
    truncated: bool | None = None


class LightdashOk(BaseModel):
    """Lightdash's success body: `{"status": "ok", "results": ...}`."""

    status: Literal["ok"]
    results: Any = None


Name = Annotated[str, Field(max_length=200)]
Value = Annotated[str, Field(max_length=1000)] | Annotated[float, Field(ge=-1e18, le=1e18)] | bool | None


class FilterTarget(BaseModel):
    fieldId: Name


class FilterRule(BaseModel):
    id: Name | None = None
    target: FilterTarget
    operator: Annotated[str, Field(max_length=40)]
    values: list[Value] = Field(default_factory=list, max_length=500)


class FilterGroup(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: Name | None = None
    all_of: list[FilterRule] | None = Field(None, alias="and", max_length=50)
    any_of: list[FilterRule] | None = Field(None, alias="or", max_length=50)


class Filters(BaseModel):
    dimensions: FilterGroup | None = None
    metrics: FilterGroup | None = None  # refused when not empty: the Hub filters dimensions only


class Sort(BaseModel):
    fieldId: Name
    descending: bool = False
    nullsFirst: bool | None = None


class Unsupported(BaseModel):
    """Table calculations, custom dimensions and additional metrics: refused (400) when sent."""

    name: Name | None = None


class MetricQuery(BaseModel):
    exploreName: Name
    dimensions: list[Name] = Field(default_factory=list, max_length=20)
    metrics: list[Name] = Field(max_length=50)
    filters: Filters | None = None
    sorts: list[Sort] = Field(default_factory=list, max_length=20)
    limit: int = Field(500, ge=1, le=1_000_000)
    tableCalculations: list[Unsupported] = Field(default_factory=list, max_length=20)
    customDimensions: list[Unsupported] | None = Field(None, max_length=20)
    additionalMetrics: list[Unsupported] | None = Field(None, max_length=20)
    timezone: Annotated[str, Field(max_length=64)] | None = None


class MetricQueryBody(BaseModel):
    """Lightdash's `POST /api/v2/projects/{uuid}/query/metric-query` body."""

    query: MetricQuery
    context: Annotated[str, Field(max_length=64)] | None = None
    invalidateCache: bool | None = None


class CancelBody(BaseModel):
    """Nothing is read from the body of a cancel."""

    reason: Annotated[str, Field(max_length=200)] | None = None
