"""Analytics routes, under the plugin's mount (`/analytics` by default).

Seed 000 "analytics-lightdash" (the Hub's envelope and conventions):

    GET /api/v1/projects                  the organization's projects
    GET /api/v1/metrics                   the catalogue; with `metric`: its values

Lightdash's own API, in its shapes (`{"status": "ok", "results": ...}`, errors
`{"status": "error", "error": {statusCode, name, message}}`, `Authorization: ApiKey <key>`), so
its official Python SDK works unchanged. The SDK joins its paths to the host's root (it drops the
`/analytics` of the URL it is given), so these are also served at the root unless
`lightdash_at_root = false`:

    GET  /api/v1/health
    GET  /api/v1/org/projects             GET /api/v1/projects/{uuid}
    GET  /api/v1/projects/{uuid}/explores GET /api/v1/projects/{uuid}/explores/{name}
    POST /api/v2/projects/{uuid}/query/metric-query
    GET  /api/v2/projects/{uuid}/query/{queryUuid}?page=&pageSize=
    POST /api/v2/projects/{uuid}/query/{queryUuid}/cancel
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Blueprint, request
from quart_schema import RequestSchemaValidationError, document_request, document_response

from core import (
    HubError,
    current_hub,
    current_org_id,
    document_errors,
    principal_from_credential,
    public,
    require,
    utcnow,
    validate_query,
    validation_error,
)
from plugins.analytics import lightdash, service
from plugins.analytics.models import AnalyticsQuery
from plugins.analytics.schemas import (
    CancelBody,
    LightdashOk,
    MetricQueryBody,
    MetricsOut,
    MetricsQuery,
    ProjectsOut,
    ResultsQuery,
)

PERMISSION = "analytics.read"
ERROR_NAMES = {400: "ParameterError", 401: "AuthorizationError", 403: "ForbiddenError", 404: "NotFoundError",
               405: "MethodNotAllowedError", 409: "AlreadyExistsError", 413: "ParameterError",
               422: "ParameterError", 429: "TooManyRequestsError", 504: "TimeoutError"}


async def lightdash_credentials() -> Any:
    """Lightdash's `Authorization: ApiKey <token>`, the token being a Hub API key (or access
    token); anything else goes to the Hub's own Bearer / X-API-Key resolution."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "apikey" and value.strip():
        return await principal_from_credential(value.strip())
    return None


def analytics_read():
    return require(PERMISSION, authenticate_with=lightdash_credentials)


# -- seed 000: projects and metrics ----------------------------------------------------------------

bp = Blueprint("analytics", __name__)


def _project_body(org_id: Any, project: dict[str, Any], available: dict[str, Any]) -> dict[str, Any]:
    metrics = service.in_project(project, available)
    return {"projectUuid": project["uuid"], "name": project["name"], "organizationUuid": str(org_id),
            "explores": sorted({metric.plugin for metric in metrics.values()}), "metrics": len(metrics)}


@bp.get("/api/v1/projects")
@analytics_read()
@document_response(ProjectsOut)
async def analytics_projects():
    """The organization's analytics projects (seed 000).

    One project per organization (its uuid is stable), plus those `[plugins.analytics] projects`
    configures; each lists its explores (the plugins whose metrics it shows)."""
    hub, org_id = current_hub(), current_org_id()
    available = await service.metrics_for_org(hub, org_id)
    found = [_project_body(org_id, project, available) for project in service.projects(hub, org_id)]
    return {"projects": found, "total": len(found)}, 200, {"X-Total-Count": str(len(found))}


@bp.get("/api/v1/metrics")
@analytics_read()
@validate_query(MetricsQuery)
@document_response(MetricsOut)
async def analytics_metrics(query_args: MetricsQuery):
    """The metric catalogue, or one metric's values (seed 000).

    Without `metric`: every metric of the plugins on for the organization (`projectUuid`
    narrows to a project's). With `metric` (`crm.leads`): its values, with `from` and `to` (ISO
    dates or date-times, inclusive), `granularity` (day, week, month, as the metric allows),
    `groupBy` (comma-separated dimensions) and `filters` (a JSON object, dimension -> value or
    list of values). Unknown metric or dimension, a granularity not allowed, `from` after `to`:
    400 naming the parameter."""
    hub, org_id = current_hub(), current_org_id()
    project = service.project_for(hub, org_id, query_args.project_uuid) if query_args.project_uuid else None
    if query_args.metric is None:
        if query_args.start or query_args.end or query_args.granularity or query_args.group_by or query_args.filters:
            raise validation_error("metric", "name the metric whose values you ask for")
        available = service.in_project(project, await service.metrics_for_org(hub, org_id))
        catalogue = [service.describe(metric) for metric in sorted(available.values(), key=lambda m: m.id)]
        return {"metrics": catalogue, "total": len(catalogue)}, 200, {"X-Total-Count": str(len(catalogue))}
    filters = None
    if query_args.filters:
        try:
            filters = json.loads(query_args.filters)
        except ValueError:
            raise validation_error("filters", "must be a JSON object: {\"dimension\": value or [values]}") from None
        if not isinstance(filters, dict):
            raise validation_error("filters", "must be a JSON object: {\"dimension\": value or [values]}")
    if project is not None and query_args.metric.split(".", 1)[0] not in (project["explores"] or [query_args.metric.split(".", 1)[0]]):
        raise validation_error("metric", f"unknown metric {query_args.metric!r} in this project")
    return await service.query_metric(hub, org_id, query_args.metric, start=query_args.start, end=query_args.end,
                                      granularity=query_args.granularity, group_by=query_args.group_by,
                                      filters=filters)


# -- Lightdash's API -----------------------------------------------------------------------------


def _ok(results: Any, status: int = 200):
    return {"status": "ok", "results": results}, status


class LightdashErrorDetail(BaseModel):
    statusCode: int
    name: str
    message: str
    code: str  # the Hub's symbolic code (NOT_FOUND, VALIDATION_ERROR, ...), beside Lightdash's name
    details: dict[str, Any] | None = None  # the Hub's details (the field, the reason)


class LightdashErrorBody(BaseModel):
    """Lightdash's error body: `{"status": "error", "error": {statusCode, name, message}}`."""

    status: str
    error: LightdashErrorDetail


def lightdash_error(status: int, message: str, data: Any = None, headers: dict | None = None,
                    code: str | None = None):
    error = {"statusCode": status, "name": ERROR_NAMES.get(status, "UnexpectedServerError"), "message": message,
             "code": code or ("NOT_FOUND" if status == 404 else "VALIDATION_ERROR" if status == 400 else "ERROR")}
    if data:
        error["details"] = data
    return {"status": "error", "error": error}, status, headers or {}


def lightdash_blueprint(name: str, at_root: bool) -> Blueprint:
    """Lightdash's routes on a blueprint of their own (mounted under /analytics, and once more at
    the host's root for the SDK)."""
    api = document_errors(model=LightdashErrorBody)(Blueprint(name, __name__))
    api.hub_at_root = at_root

    def renamed(view):  # one operation id per copy: lightdash_health, lightdash_root_health, ...
        if at_root:
            view.__name__ = view.__name__.replace("lightdash_", "lightdash_root_", 1)
            view.__qualname__ = view.__name__
        return view

    @api.errorhandler(HubError)
    async def _hub_error(error: HubError):
        message = error.message
        if error.code == "VALIDATION_ERROR" and error.details and error.details.get("field"):
            message = f"{error.details['field']}: {error.details.get('reason', message)}"
        return lightdash_error(error.status, message, error.details or None, error.headers, error.code)

    @api.errorhandler(RequestSchemaValidationError)
    async def _schema_error(error: RequestSchemaValidationError):
        return lightdash_error(400, "Invalid request body")

    @api.errorhandler(UnicodeDecodeError)
    async def _bad_encoding(error: UnicodeDecodeError):
        return lightdash_error(400, "Invalid JSON in request body")

    @api.get("/api/v1/health")
    @public
    @document_response(LightdashOk)
    @renamed
    async def lightdash_health():
        """Lightdash's health: the instance's query limits (the SDK reads `query.maxLimit`)."""
        settings = current_hub().plugin_settings("analytics")
        return _ok({"healthy": True, "mode": "default", "version": "hub", "localDbAuthEnabled": False,
                    "requiresOrgRegistration": False, "hasEmailClient": False, "isAuthenticated": False,
                    "query": {"maxLimit": settings.row_limit, "maxPageSize": settings.max_page_size,
                              "defaultLimit": min(500, settings.row_limit), "csvCellsLimit": 100000}})

    @api.get("/api/v1/org/projects")
    @analytics_read()
    @document_response(LightdashOk)
    @renamed
    async def lightdash_org_projects():
        """Lightdash's projects of the caller's organization."""
        hub, org_id = current_hub(), current_org_id()
        return _ok([{"projectUuid": project["uuid"], "name": project["name"], "type": "DEFAULT",
                     "createdByUserUuid": None, "upstreamProjectUuid": None, "warehouseType": "postgres",
                     "requireUserCredentials": False} for project in service.projects(hub, org_id)])

    @api.get("/api/v1/projects/<project_uuid>")
    @analytics_read()
    @document_response(LightdashOk)
    @renamed
    async def lightdash_project(project_uuid: str):
        """One Lightdash project of the caller's organization (another's: 404)."""
        hub, org_id = current_hub(), current_org_id()
        project = service.project_for(hub, org_id, project_uuid)
        return _ok({"projectUuid": project["uuid"], "organizationUuid": str(org_id), "name": project["name"],
                    "type": "DEFAULT", "dbtConnection": {"type": "none"}, "warehouseConnection": {"type": "postgres"},
                    "upstreamProjectUuid": None, "pinnedListUuid": None, "dbtVersion": "v1.7"})

    @api.get("/api/v1/projects/<project_uuid>/explores")
    @analytics_read()
    @document_response(LightdashOk)
    @renamed
    async def lightdash_explores(project_uuid: str):
        """The project's explores: one per plugin with metrics, on for the organization."""
        hub, org_id = current_hub(), current_org_id()
        project = service.project_for(hub, org_id, project_uuid)
        available = service.in_project(project, await service.metrics_for_org(hub, org_id))
        return _ok([lightdash.summary(plugin, metrics) for plugin, metrics in lightdash.explores(available).items()])

    @api.get("/api/v1/projects/<project_uuid>/explores/<explore_name>")
    @analytics_read()
    @document_response(LightdashOk)
    @renamed
    async def lightdash_explore(project_uuid: str, explore_name: str):
        """One explore: its table's metrics and dimensions."""
        hub, org_id = current_hub(), current_org_id()
        project = service.project_for(hub, org_id, project_uuid)
        available = service.in_project(project, await service.metrics_for_org(hub, org_id))
        by_plugin = lightdash.explores(available)
        if explore_name not in by_plugin:
            raise HubError("NOT_FOUND", f"Explore {explore_name!r} not found")
        return _ok(lightdash.explore(explore_name, by_plugin[explore_name]))

    @api.post("/api/v2/projects/<project_uuid>/query/metric-query")
    @analytics_read()
    @document_request(MetricQueryBody)
    @document_response(LightdashOk)
    @renamed
    async def lightdash_metric_query(project_uuid: str):
        """Run a metric query (Lightdash's v2 API); its pages are read with the query's uuid."""
        hub, org_id = current_hub(), current_org_id()
        project = service.project_for(hub, org_id, project_uuid)
        try:
            body = await request.get_json(force=True, silent=False)
        except Exception:
            raise validation_error("body", "Invalid JSON in request body") from None
        try:
            MetricQueryBody.model_validate(body)  # the bounds of every part; then read as Lightdash sends it
        except ValidationError as error:
            first = error.errors()[0]
            raise validation_error(".".join(str(part) for part in first["loc"]) or "body", first["msg"]) from None
        query = await lightdash.run_metric_query(hub, org_id, project, body)
        return _ok(lightdash.submitted(query))

    async def _query(project_uuid: str, query_uuid: str) -> AnalyticsQuery:
        hub, org_id = current_hub(), current_org_id()
        project = service.project_for(hub, org_id, project_uuid)
        try:
            query_id = uuid.UUID(query_uuid)
        except ValueError:
            raise HubError("NOT_FOUND", "Query not found") from None
        ttl = hub.plugin_settings("analytics").query_ttl_seconds
        query = await AnalyticsQuery.for_org(org_id).filter(
            id=query_id, project_uuid=project["uuid"], created_at__gte=utcnow() - timedelta(seconds=ttl)).first()
        if query is None:
            raise HubError("NOT_FOUND", "Query not found")
        return query

    @api.get("/api/v2/projects/<project_uuid>/query/<query_uuid>")
    @analytics_read()
    @validate_query(ResultsQuery)
    @document_response(LightdashOk)
    @renamed
    async def lightdash_query_results(project_uuid: str, query_uuid: str, query_args: ResultsQuery):
        """A page of a query's results (`page`, `pageSize` up to `max_page_size`)."""
        query = await _query(project_uuid, query_uuid)
        settings = current_hub().plugin_settings("analytics")
        page = query_args.page or 1
        page_size = query_args.page_size or min(500, settings.max_page_size)
        if page_size > settings.max_page_size:
            raise validation_error("pageSize", f"must be at most {settings.max_page_size}")
        return _ok(lightdash.results_page(query, page, page_size))

    @api.post("/api/v2/projects/<project_uuid>/query/<query_uuid>/cancel")
    @analytics_read()
    @document_request(CancelBody)
    @document_response(LightdashOk)
    @renamed
    async def lightdash_cancel_query(project_uuid: str, query_uuid: str):
        """Cancel a query: the Hub's have finished by the time their uuid is known, so nothing runs."""
        await _query(project_uuid, query_uuid)
        return _ok(None)

    return api


lightdash_bp = lightdash_blueprint("analytics_lightdash", at_root=False)
lightdash_root_bp = lightdash_blueprint("analytics_lightdash_root", at_root=True)
