"""The Hub's public plugin API: everything a plugin imports comes from here.

    from core import hookimpl, require, public, current_org_id, emit, enqueue, TenantModel, ...

Plugins import this module and nothing below it (CI checks it with import-linter: see
`[tool.importlinter]` in pyproject.toml), so the layers underneath (kernel, tenancy, http,
jobs, events, ops, builtin) can change without breaking a plugin. The names, by topic:

Hooks         hookimpl (optional marker), Hub (what every hook may take as `hub`),
              current_hub(), plugin_settings(name)
Routes        require(permission, key_header=None) (key_header: the API-key header of a product
              the routes imitate, e.g. n8n's X-N8N-API-KEY), public, current_principal(),
              current_org_id(), Principal, max_body(limit) (a route's own body-size bound),
              json_as_text (a route whose JSON body comes labelled text/plain, e.g. Amazon SNS's),
              principal_for_user (a user's current rights, for work done later on their behalf),
              principal_for_api_key(key_id), principal_from_password(email, password, address)
              (for `require(..., authenticate_with=...)`: a product's own auth scheme, e.g.
              Mautic's Basic auth and OAuth2 tokens),
              principal_from_credential(token) (a Hub API key or access token that came in a
              product's own scheme, e.g. Lightdash's `Authorization: ApiKey <key>`)
Browser pages  sign_in(email, password) -> (BrowserSession, cookie value), browser_session(cookie)
              -> BrowserSession | None (the user's current principal, a short-lived access token of
              the session, `check_csrf(token)`), sign_out(session): sessions of pages the Hub serves
              itself (the dashboard), ended by logout like API sessions (core/http/sessions.py);
              served_over_https() (the request's scheme, or a trusted proxy's X-Forwarded-Proto)
Outbound HTTP safe_client(allowlist) (SSRF-checked httpx client for user-given URLs), is_unsafe_error,
              resolve_host(host, port, allowlist) (the same check for a host reached by another
              protocol, e.g. an SMTP server: its addresses, or UnsafeURL, a ValueError)
Errors        HubError, not_found(what), validation_error(field, reason), conflict(message),
              pydantic_details(error)
Schemas       CamelModel, SnakeModel (unknown fields refused), Timestamp, iso(), utcnow(),
              optional_body(model) (a route's optional JSON body)
Lists         paginate(style), Page (`await page.fetch(query, "-created_at")`, `page.listing(...)`),
              OffsetQuery, SkipQuery, PageNumberQuery, Pagination, CamelPagination; keyset pages:
              CursorQuery (?cursor=, ?total=), CursorPagination, CamelCursorPagination
Query strings validate_query(model) (the view gets `query_args`), Query, Blankable, CommaSeparated
API docs      document_errors(409, ...) (the OpenAPI document infers 400/401/403/404/429),
              Text(media_type) (`document_response(Text("text/css"))`: a body that is not JSON)
Tables        TenantModel (org_id, `for_org`, `get_for_org`), TimestampedModel,
              transaction() (tortoise's in_transaction plus after-commit), on_commit(callback)
Events        emit(org_id, type, data) (recorded with the caller's transaction, delivered
              after it commits), Event, EventPayload
Jobs          enqueue(org_id, type, payload, priority=5), JobContext, JobFailed, JobCancelled;
              reading them: job_types(), get_job(org_id, id),
              job_body(job) (seed 002's shape), cancel_job(org_id, id), job_totals(org_id),
              default_priority(p) (a `with` block: jobs enqueued inside without one get p)
Functions     call_function, available_functions, openai_tool, FunctionContext, HubFunction
Rate limits   rate_limit(key, requests_per_minute, burst) (a bucket of your own: per workflow, ...)
Usage         record_usage, check_quota, consume_quota (metered units and monthly quotas),
              usage_totals(org_id, start, end) (every unit's total over days, e.g. to bill it),
              UsageCounter (the metered units per organization and day, read-only: the model of a
              `hub_metrics` metric over a unit recorded with record_usage),
              member_count(org_id) (seats), member_ids(org_id, roles=None) (active members' ids),
              open_connections(org_id) (WebSocket connections open now),
              quota_exempt (a view, under `require`, neither counted nor refused by quotas),
              record_cache (cache hit/miss metrics), tenant_label (an organization as a
              metric label: a keyed hash, never the id)
Sockets       serve_topic(match, types=..., render=..., on_message=...) for a plugin's own WebSocket
              topic; broadcast(org_id, type, data): a volatile event for open sockets (cursors)
Workflows     NodeContext (what a `hub_workflow_nodes` run function receives)
Credentials   save_credentials(org_id, owner, name, values), load_credentials(...) -> Credentials | None,
              delete_credentials(...), mask_credentials(values) (what an API may show),
              CredentialsUnreadable: an integration's secrets, encrypted at rest with a key derived
              from the Hub's secret (rotation: previous_secret_keys + `hub rotate-credentials`)
Integrations  `hub_integrations` declares them; IntegrationConfig (base of an integration's config model),
              IntegrationContext (what its `test` gets), integration_credentials(org_id, id),
              integration_config(org_id, id), integration_failed(org_id, id, message) (status
              "error", the `integration.error` event), integration_synced(org_id, id);
              a plugin keeping several connections of its own shows them in the catalogue with
              integration_connected(org_id, id, config) / integration_disconnected(org_id, id)
Settings      CommaList (a list setting that an environment variable may give as "a,b")
Files         save_file(org_id, bytes_or_chunks, name=, purpose=, owner_id=, shared=, content_type=,
              allowed_types=, max_bytes=, created_by=) -> FileInfo (streamed, type told by content,
              413/415/429 refusals); save_upload(field="file", purpose=, ...) (the current request's
              multipart part, streamed); open_file(org_id, id) (`async for chunk in await open_file(...)`,
              `.info`), file_info, delete_file, delete_files(org_id, purpose=, owner_id=) (a resource's
              files), file_response(org_id, id, inline=False) (a download from a route),
              storage_used(org_id) (bytes, against the plan's storage_mb)

The hooks themselves are documented in core/kernel/hookspecs.py; the test kit for plugin
authors is core/testing.py (a pytest plugin, registered as `hub` under `pytest11`).
"""

from __future__ import annotations

from core.builtin.integrations import (
    IntegrationConfig,
    IntegrationContext,
    integration_config,
    integration_credentials,
    integration_connected,
    integration_disconnected,
    integration_failed,
    integration_synced,
)
from core.events.bus import Event, emit
from core.events.catalogue import EventPayload
from core.events.ssrf import is_unsafe_error, resolve_host, safe_client
from core.events.websocket.gateway import open_connections
from core.events.websocket.sockets import broadcast, serve_topic
from core.files.service import (
    FileInfo,
    delete_file,
    delete_files,
    file_info,
    file_response,
    open_file,
    save_file,
    storage_used,
)
from core.files.uploads import save_upload
from core.http.auth import current_org_id, current_principal, public, require
from core.http.errors import max_body
from core.http.pipeline import json_as_text
from core.http.openapi import Text, document_errors
from core.http.pagination import (
    CamelCursorPagination,
    CamelPagination,
    CursorPagination,
    CursorQuery,
    OffsetQuery,
    Page,
    PageNumberQuery,
    Pagination,
    SkipQuery,
    paginate,
)
from core.http.query import Blankable, CommaSeparated, Query, validate_query
from core.http.schemas import CamelModel, SnakeModel, Timestamp, optional_body
from core.http.sessions import BrowserSession, browser_session, served_over_https, sign_in, sign_out
from core.jobs.api import (
    JobCancelled,
    JobContext,
    JobFailed,
    cancel_job,
    default_priority,
    enqueue,
    get_job,
    job_body,
    job_totals,
    job_types,
)
from core.kernel.contributions import NodeContext
from core.kernel.errors import HubError, conflict, not_found, pydantic_details, validation_error
from core.kernel.hookspecs import hookimpl
from core.kernel.hub import Hub, current_hub, plugin_settings
from core.kernel.models import TenantModel, TimestampedModel
from core.kernel.settings import CommaList
from core.kernel.times import iso, utcnow
from core.kernel.transactions import on_commit, transaction
from core.ops.metering import check_quota, consume_quota, quota_exempt, record_usage, usage_totals
from core.ops.models import UsageCounter
from core.ops.ratelimit import rate_limit
from core.ops.observability.metrics import record_cache, tenant_label
from core.tenancy.accounts import member_count, member_ids
from core.tenancy.credentials import (
    Credentials,
    CredentialsUnreadable,
    delete_credentials,
    load_credentials,
    mask_credentials,
    save_credentials,
)
from core.tenancy.functions import FunctionContext, HubFunction, available_functions, call_function, openai_tool
from core.tenancy.principals import (
    Principal,
    principal_for_api_key,
    principal_for_user,
    principal_from_credential,
    principal_from_password,
)

__all__ = [
    "CamelModel", "CommaList", "Event", "EventPayload", "FunctionContext", "Hub", "HubError", "HubFunction",
    "JobCancelled", "JobContext", "JobFailed", "NodeContext", "Page", "Principal", "SnakeModel", "TenantModel",
    "Timestamp", "TimestampedModel", "available_functions", "call_function", "check_quota", "conflict",
    "consume_quota", "quota_exempt", "current_hub", "current_org_id", "current_principal", "emit", "enqueue", "hookimpl", "iso",
    "not_found", "on_commit", "openai_tool", "paginate", "plugin_settings", "public", "pydantic_details", "record_cache",
    "record_usage", "require", "serve_topic", "broadcast", "safe_client", "resolve_host", "optional_body", "is_unsafe_error", "principal_for_user", "principal_for_api_key", "principal_from_password", "principal_from_credential", "UsageCounter", "max_body", "json_as_text", "rate_limit", "tenant_label", "transaction", "utcnow", "validation_error",
    # lists, query strings and API docs
    "Blankable", "CamelCursorPagination", "CamelPagination", "CommaSeparated", "CursorPagination", "CursorQuery",
    "OffsetQuery", "PageNumberQuery", "Pagination", "Query",
    "SkipQuery", "Text", "document_errors", "validate_query",
    # credentials of integrations, encrypted at rest
    "Credentials", "CredentialsUnreadable", "delete_credentials", "load_credentials", "mask_credentials",
    "save_credentials",
    # integrations an organization connects (seed 004)
    "IntegrationConfig", "IntegrationContext", "integration_config", "integration_credentials",
    "integration_connected", "integration_disconnected", "integration_failed", "integration_synced",
    # jobs, read and cancelled (seed 002's workers view)
    "cancel_job", "default_priority", "get_job", "job_body", "job_totals", "job_types",
    # browser sessions of the Hub's own pages (core/http/sessions.py)
    "BrowserSession", "browser_session", "served_over_https", "sign_in", "sign_out",
    # files (core/files)
    "FileInfo", "delete_file", "delete_files", "file_info", "file_response", "open_file", "save_file", "save_upload",
    "storage_used",
    # usage against a plan's limits (billing)
    "member_count", "member_ids", "open_connections", "usage_totals",
]
