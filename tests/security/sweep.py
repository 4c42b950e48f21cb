"""The OpenAPI document of the session app as the generator of the security sweeps
(tests/security/test_*.py): its operations, a valid body for each from its request schema, an
organization's resources created through the API, and what an organization can read (to prove
that a request changed nothing, and to find one organization's values in another's answers).

A new plugin's routes join every sweep by being in the document. This module needs an entry only
where generation cannot work: `VALUES` (a property whose valid values the schema cannot say, e.g.
a webhook URL the SSRF guard lets through), `LISTED` (one whose valid values are the server's,
e.g. a model) and `FACTORIES` (a path parameter whose resource is not created by a POST on the
path before it, e.g. a job).

    async with sweeping(app, "Owner", "Intruder") as (kit, owner, intruder):  # one of everything for the owner
        for operation in kit.document.operations:
            path = await owner.path(operation)             # its resources in the path (created once)
            body = await intruder.body(operation, full=True)   # every property (or the required ones)
            before = await owner.state()                   # every GET it can make, by path

`sweeping` also lifts the rate limits and lets webhooks point at the loopback while it holds.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator

from quart_schema.extension import QUART_SCHEMA_HIDDEN_ATTRIBUTE

from core.http.auth import ACCESS_ATTRIBUTE
from core.http.openapi import OPENAPI_ENDPOINTS
from core.kernel.settings import WebhookSettings
from core.ops.ratelimit import current_limiter
from core.testing import Api, create_key, register_and_login

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PARAMETER = re.compile(r"{([^}]+)}")
# Nothing listens on port 9 of the loopback (the discard port): a test delivery fails at once
# and is recorded, and no delivery leaves the machine.
WEBHOOK_URL = "http://127.0.0.1:9/security-sweep"
# Property -> the value to send, where the schema cannot say what the service accepts.
VALUES: dict[str, Any] = {
    "url": WEBHOOK_URL,  # the SSRF guard refuses anything but an allowlisted address
    "events": ["security.sweep"],  # an event pattern no event matches: the webhook never fires by itself
    "scopes": ["read"],  # API key scopes are checked against the permission registry
    "permissions": ["read"],  # (seed 003's name for scopes)
    "capabilities": [],  # names of hub functions, checked when an agent is saved
    "toolChoice": "auto",  # auto, none, required or one of the capabilities
    "preview_image": "https://example.com/preview.png",  # an https URL (a template's picture)
    "plan": "starter",  # a plan of the billing catalogue (starter: the limits a new organization has)
    "media_urls": ["https://example.com/sweep.png"],  # an SMS's pictures: https URLs only
    "base_url": WEBHOOK_URL,  # a DMS's address (SSRF-checked like a webhook's)
    "authentication": {"type": "oauth2", "credentials": {"client_id": "sweep", "client_secret": "sweep-secret"}},
    "event_type": "lead.created",  # a Slack rule's event: one of the catalogue the admin may read
    "address": "sweep@example.com",  # a suppressed address: an email address or an E.164 number
}
# Property -> the list whose first entry is a valid value (what the server has, not an organization).
LISTED: dict[str, str] = {
    "model": "/v1/models",  # a model the LLM runtime serves (none listed: an unknown one)
    "metric": "/analytics/api/v1/metrics",  # an analytics metric of the catalogue (its `name`)
}
# Path parameter -> (the operation that creates its resource, where the answer names it), for
# resources that no POST on the path before the parameter creates.
FACTORIES: dict[str, tuple[str, str]] = {
    # a delivery is recorded by a test delivery (to WEBHOOK_URL: it fails, and is kept)
    "delivery_id": ("POST /api/v1/webhooks/{webhook_id}/test", "id"),
    # a job and a model version: a training request (it runs in the test app and fails for
    # want of interactions; both stay)
    "job_id": ("POST /api/v1/recommender/training", "job_id"),
    "version": ("POST /api/v1/recommender/training", "model_version"),
    # an execution of a workflow (an empty one made for the sweep: it completes at once)
    "execution_id": ("POST /api/workflows/{workflow_id}/execute", "execution_id"),
    # a workflow: the Hub's (the n8n API shows the same workflows under the same ids)
    "workflow_id": ("POST /api/workflows", "id"),
    "workflow_version": ("POST /api/workflows", "version"),
    # a stored file: an upload (multipart/form-data: `Tenant.uploads` sends a small CSV)
    "file_id": ("POST /api/files", "id"),
    # a subscription: an admin's plan assignment (the local provider records it as one)
    "subscription_id": ("PUT /api/v1/billing/plan", "subscription_id"),
    # a message: an email queued (no SMTP connected: its job fails it, and it stays)
    "message_id": ("POST /api/v1/messages/email", "id"),
    # a ticket's attachment: an upload to the ticket (the sweep's small CSV)
    "attachment_id": ("POST /api/v1/tickets/{ticket_id}/attachments", "id"),
    # a notification: one the owner sends to themself (no user_id: the caller)
    "notification_id": ("POST /api/v1/notifications", "id"),
    # a DMS sync: one started (the sweep's connection points at the discard port: it fails, and stays)
    "dms_sync_id": ("POST /api/v1/dms/connections/{dms_connection_id}/sync", "id"),
    # Mautic's resources: created at .../new, answered inside {"contact": {...}} (wip/mautic: not loaded yet)
    "mautic_contact_id": ("POST /mautic/api/contacts/new", "contact.id"),
    "mautic_segment_id": ("POST /mautic/api/segments/new", "list.id"),
    "mautic_email_id": ("POST /mautic/api/emails/new", "email.id"),
    "mautic_campaign_id": ("POST /mautic/api/campaigns/new", "campaign.id"),
}
# GET operations whose answer changes with every request anyone makes, so they are no part of
# what an organization "has" (the request counters of metering, the server's own health).
VOLATILE_READS = {
    "GET /api/v1/usage": "counts every API call of the organization",
    "GET /api/v1/keys/{key_id}/usage": "counts the requests made with the key",
}
# Fields that record use rather than content (a sweep's API key is used by the sweep itself).
VOLATILE_FIELDS = frozenset({"last_used_at", "usage_count"})
# Strings of these formats are parsed (to a bounded value) or refused: their length needs no bound.
BOUNDED_FORMATS = frozenset({"date-time", "date", "time", "uuid"})
MAX_DEPTH = 12
SETTLE_SECONDS = 300  # a bound against hanging on a job that never ends, not about speed


STANDARD_SCHEMES = frozenset({"bearerAuth", "apiKeyHeader"})


class KeyedApi(Api):
    """An organization admin's Api that sends an admin-scoped API key in the route's own header
    on routes that take the key there (n8n's), the JWT everywhere else."""

    key_routes: list = []
    key: str = ""

    def key_header(self, path: str) -> str | None:
        route = path.split("?", 1)[0]
        return next((name for pattern, name in self.key_routes if pattern.match(route)), None)

    async def request(self, method: str, path: str, json: Any = None, **kwargs) -> tuple[Any, Any]:
        header = self.key_header(path)
        if header is not None and "headers" not in kwargs:
            kwargs["headers"] = {header: self.key} if self.key else {}
        return await super().request(method, path, json, **kwargs)


def keyed(document: "Document", api: Api, key: str | None) -> KeyedApi:
    """`api`, with `key` sent on the routes that take a key in a header of their own (without a
    key, those routes get no credentials: a JWT never reaches them)."""
    result = KeyedApi(api.client, api.headers, api.account)
    result.key_routes, result.key = document.key_routes, key or ""
    return result


class Ungenerated(Exception):
    """An operation, body or resource this module cannot make from the document."""


def snake(name: str) -> str:
    """`companyId` -> `company_id` (the column of a camelCase property)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def openapi_path(rule: str) -> str:
    """Werkzeug's `/x/<int:id>` is OpenAPI's `/x/{id}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


# -- the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict = field(repr=False, compare=False)
    view: Callable = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def tag(self) -> str:
        return self.spec["tags"][0]

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.path)

    @property
    def access(self) -> tuple[str, str | None]:
        return getattr(self.view, ACCESS_ATTRIBUTE)

    @property
    def permission(self) -> str | None:
        kind, name = self.access
        return name if kind == "permission" else None

    @property
    def body(self) -> dict | None:
        """The JSON request body's schema (unresolved), or None."""
        content = self.spec.get("requestBody", {}).get("content", {})
        return content.get("application/json", {}).get("schema")

    @property
    def multipart(self) -> dict | None:
        """The multipart/form-data request body's schema (unresolved): an upload, or None."""
        content = self.spec.get("requestBody", {}).get("content", {})
        return content.get("multipart/form-data", {}).get("schema")

    @property
    def query(self) -> list[dict]:
        return [parameter for parameter in self.spec.get("parameters", []) if parameter["in"] == "query"]

    def error_schema(self, status: int) -> dict | None:
        """The schema of the error body the operation documents for `status` (None: undocumented)."""
        response = self.spec["responses"].get(str(status))
        return response["content"]["application/json"]["schema"] if response else None


class Document:
    """The OpenAPI document and the schema walking every sweep needs."""

    def __init__(self, spec: dict, app) -> None:
        self.spec = spec
        self.components = spec["components"]["schemas"]
        self.operations: list[Operation] = []
        for rule in app.url_map.iter_rules():
            if rule.endpoint in OPENAPI_ENDPOINTS or rule.websocket:
                continue
            if getattr(app.view_functions[rule.endpoint], QUART_SCHEMA_HIDDEN_ATTRIBUTE, False):
                continue  # kept out of the API description (web pages, links in emails)
            path = openapi_path(rule.rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                operation = spec["paths"][path][method.lower()]  # test_openapi: every route is documented
                self.operations.append(Operation(method, path, operation, app.view_functions[rule.endpoint]))
        self.operations.sort(key=lambda operation: (operation.path, operation.method))
        self.by_name = {operation.name: operation for operation in self.operations}
        # routes that take the API key in a header of their own (n8n's X-N8N-API-KEY): (path regex, header)
        schemes = spec["components"].get("securitySchemes", {})
        self.key_routes = [
            (re.compile("^" + PARAMETER.sub("[^/]+", operation.path) + "$"), schemes[name]["name"])
            for operation in self.operations for requirement in operation.spec.get("security", [])
            for name in requirement if name not in STANDARD_SCHEMES and schemes.get(name, {}).get("in") == "header"]

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return {**{k: v for k, v in schema.items() if k != "allOf"}, **self.resolve(schema["allOf"][0])}
        return schema

    def variants(self, schema: dict) -> list[dict]:
        """The alternatives of a schema other than null (`anyOf`, `oneOf`), resolved; the
        keywords beside `anyOf` (`x-bounded-by`, `default`) go with each."""
        schema = self.resolve(schema)
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options:
            return [] if schema.get("type") == "null" else [schema]
        outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "default", "title")}
        found = []
        for option in options:
            for variant in self.variants(option):
                found.append({**outer, **variant})
        return found

    def error_envelope_problem(self, operation: Operation, status: int, body: Any) -> str | None:
        """Why `body` is not the error envelope the operation documents (None when it is)."""
        if status < 400:
            return f"not an error: {body!r:.300}"
        schema = operation.error_schema(status)
        if schema is None:
            return f"{status} is not documented"
        envelope = self.resolve(schema)
        required = set(envelope.get("required", envelope["properties"]))
        if not isinstance(body, dict) or not required <= set(body) <= set(envelope["properties"]):
            return f"not the {schema['$ref'].rsplit('/', 1)[-1]} envelope: {body!r:.300}"
        if "error" not in envelope["properties"]:
            return None  # a product's own flat error body (n8n's {"message"}): its keys are all there is
        inner = self.resolve(envelope["properties"]["error"])
        missing = set(inner.get("required", inner["properties"])) - set(body["error"])
        return f"the error lacks {sorted(missing)}: {body!r:.300}" if missing else None

    def refusal_problem(self, operation: Operation, status: int, code: str, response, body: Any) -> str | None:
        """Why the answer is not `status` with the operation's error envelope and `code` (the
        OpenAI-compatible routes spell codes in lower case), or None."""
        if response.status_code != status:
            return f"{response.status_code}, not {status}: {body!r:.300}"
        problem = self.error_envelope_problem(operation, status, body)
        if problem:
            return f"{status} {problem}"
        if "error" not in body:
            return None  # n8n's {"message"}: no code to compare (the status says it)
        if str(body["error"]["code"]).upper() != code:
            return f"code {body['error']['code']}, not {code}"
        return None

    # -- walking request schemas --------------------------------------------------------------

    def leaves(self, schema: dict, where: str = "body", depth: int = 0) -> Iterator[tuple[str, dict]]:
        """(where, schema) for every part of a request schema: objects, their properties, array
        items and each non-null alternative (a recursive schema, MAX_DEPTH levels deep)."""
        if depth > MAX_DEPTH:
            return
        for variant in self.variants(schema):
            yield where, variant
            for name, child in variant.get("properties", {}).items():
                yield from self.leaves(child, f"{where}.{name}", depth + 1)
            extra = variant.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                yield from self.leaves(extra, f"{where}.{{key}}", depth + 1)
            if isinstance(variant.get("items"), dict):
                yield from self.leaves(variant["items"], f"{where}[]", depth + 1)

    def objects(self, schema: dict) -> Iterator[dict]:
        """Every object schema with properties in a request schema (the body, nested models,
        records in arrays), each once."""
        seen = set()
        for _, variant in self.leaves(schema):
            key = json.dumps(variant, sort_keys=True)
            if variant.get("properties") and key not in seen:
                seen.add(key)
                yield variant


# -- values -------------------------------------------------------------------------------------


class Values:
    """Valid values from schemas: the required properties (or all of them with `full`), strings
    carrying the organization's mark (so they can be found where they must not be)."""

    def __init__(self, document: Document, mark: str, fill: dict[str, Any]) -> None:
        self.document = document
        self.mark = mark
        self.fill = fill
        self.count = 0

    def token(self) -> str:
        self.count += 1
        return f"{self.mark}{self.count}"

    def value(self, schema: dict, name: str | None = None, full: bool = False) -> Any:
        if name is not None and name in self.fill:
            return self.fill[name]
        variants = self.document.variants(schema)
        if not variants:
            return None
        variant = variants[0]
        if "const" in variant:
            return variant["const"]
        if "enum" in variant:
            return variant["enum"][0]
        kind = variant.get("type")
        if kind == "object" or "properties" in variant:
            properties = variant.get("properties", {})
            names = list(properties) if full else variant.get("required", [])
            return {key: self.value(properties[key], key, full) for key in names}
        if kind == "array":
            count = max(variant.get("minItems", 0), 1 if full else 0)
            return [self.value(variant.get("items", {}), None, full) for _ in range(count)]
        if kind == "string":
            return self.string(variant)
        if kind in ("integer", "number"):
            return self.number(variant, kind)
        if kind == "boolean":
            default = variant.get("default", schema.get("default") if isinstance(schema, dict) else None)
            return default if isinstance(default, bool) else True
        if kind == "null":
            return None
        return self.token()  # any type

    def number(self, schema: dict, kind: str) -> int | float:
        low = schema.get("minimum")
        if low is None and "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        high = schema.get("maximum", schema.get("exclusiveMaximum", 10**6) - 1)
        value = low if low is not None and low > 0 else min(1, high)
        return int(value) if kind == "integer" else float(value)

    def string(self, schema: dict) -> str:
        kind = schema.get("format")
        if kind == "email":
            return f"{self.token()}@example.com"
        if kind == "date-time":
            return "2025-01-02T03:04:05Z"
        if kind == "date":
            return "2025-01-02"
        if kind == "uuid":
            return str(uuid.uuid4())
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        pattern = schema.get("pattern")
        for candidate in (self.token(), "+1 555 0100", "Security sweep"):
            candidate = candidate.ljust(low, "x")
            if high is not None:
                candidate = candidate[:high]
            if pattern is None or re.search(pattern, candidate):
                return candidate
        raise Ungenerated(f"no value for the pattern {pattern!r}")


# -- organizations and their resources ----------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """How a path parameter's resource is made: `create`, and where its answer names it (`key`;
    None: the id is the parameter's value in the body sent, e.g. an item's `item_id`)."""

    parameter: str
    create: Operation
    key: str | None


class Kit:
    """One document for a module's sweeps and the families of its path parameters."""

    def __init__(self, app, document: Document) -> None:
        self.app = app
        self.client = app.test_client()
        self.document = document
        self.families: dict[str, Family] = {}
        self.unmade: dict[str, str] = {}
        for name in sorted({p for operation in document.operations for p in operation.parameters}):
            try:
                self.families[name] = self._family(name)
            except Ungenerated as reason:
                self.unmade[name] = str(reason)

    @classmethod
    async def of(cls, app) -> "Kit":
        response = await app.test_client().get("/openapi.json")
        return cls(app, Document(await response.get_json(), app))

    @property
    def hub(self):
        return self.app.extensions["hub"]

    def _family(self, parameter: str) -> Family:
        """FACTORIES' entry, else the POST on the path before the parameter (`/api/leads` for
        `/api/leads/{lead_id}`; of several, the one named for it: `/api/leads`, not
        `/api/messages`, for `/api/messages/{lead_id}`)."""
        operations = self.document.operations
        if parameter in FACTORIES:
            name, key = FACTORIES[parameter]
            return Family(parameter, self.document.by_name[name], key)
        stem = parameter.removesuffix("_id")
        plurals = {stem + "s", stem + "es", stem[:-1] + "ies"}
        prefixes = {o.path.split("/{" + parameter + "}")[0] for o in operations if parameter in o.parameters}
        candidates = [o for o in operations if o.method == "POST" and o.path in prefixes]
        named = [o for o in candidates if o.path.rsplit("/", 1)[-1] in plurals]
        chosen = named or candidates
        if len(chosen) != 1:
            raise Ungenerated(f"no POST creates {{{parameter}}} (on the path before it: {sorted(prefixes)})")
        return Family(parameter, chosen[0], None)

    async def tenant(self, organization: str = "Sweep") -> "Tenant":
        account = await register_and_login(self.client, organization_name=organization)
        # the key is made now, so that no sweep sees it appear among the organization's keys
        key = (await create_key(self.client, account, ["admin"]))["key"] if self.document.key_routes else None
        return Tenant(self, keyed(self.document, Api.of(self.client, account), key))

    def references(self, schema: dict) -> set[str]:
        """Path parameters that properties of this schema name (`leadId` -> lead_id)."""
        return {snake(name) for variant in self.document.objects(schema) for name in variant["properties"]
                if snake(name) in self.families}


class Tenant:
    """One organization of a sweep: its admin's Api, the resources made for it (by path
    parameter) and its mark, carried by every string generated for it."""

    def __init__(self, kit: Kit, api: Api) -> None:
        self.kit = kit
        self.api = api
        self.mark = "m" + uuid.uuid4().hex[:8]
        self.ids: dict[str, str] = {}
        self.answers: dict[str, tuple[Any, Any]] = {}  # operation -> (body sent, answer), made once
        self.values = Values(kit.document, self.mark, {})

    @property
    def org_id(self) -> str:
        return self.api.org_id

    def secrets(self) -> set[str]:
        """What only this organization has: its mark, its ids and its resources' ids."""
        return {self.mark, self.org_id, self.api.account.user_id, *(v for v in self.ids.values() if len(v) >= 8)}

    async def id_for(self, parameter: str) -> str:
        if parameter not in self.ids:
            family = self.kit.families.get(parameter)
            if family is None:
                raise Ungenerated(self.kit.unmade.get(parameter, f"no family for {{{parameter}}}"))
            self.ids[parameter] = await self._create(family)
        return self.ids[parameter]

    async def path(self, operation: Operation, shared: bool = False) -> str:
        """The operation's path on the organization's resources. With `shared`, a parameter
        that names none of an organization's resources (a plugin, a model of the server) is
        the first one the GET on the path before it lists."""
        path = operation.path
        for parameter in operation.parameters:
            if shared and parameter not in self.kit.families:
                value = await self.listed(operation.path.split("/{" + parameter + "}")[0], parameter)
            else:
                value = await self.id_for(parameter)
            path = path.replace("{" + parameter + "}", value)
        return path

    async def listed(self, path: str, parameter: str) -> str:
        response, answer = await self.api.request("GET", path)
        for key in (parameter, "id", "name"):
            found = find_key(answer, key) if response.status_code == 200 else None
            if isinstance(found, str):
                return found
        return self.values.token()  # nothing listed: an unknown one

    async def body(self, operation: Operation, full: bool = False, creating: str | None = None) -> Any:
        """A valid body for the operation: its required properties, or all of them."""
        if operation.body is None:
            return None
        fill = dict(VALUES, tenant_id=self.org_id)
        names = {name for schema in self.kit.document.objects(operation.body) for name in schema["properties"]}
        for name in names & set(LISTED):
            fill[name] = await self.listed(LISTED[name], "id")
        for parameter in sorted(self.kit.references(operation.body) - {creating}):
            try:
                value = await self.id_for(parameter)
            except Ungenerated:
                continue
            for name in (parameter, re.sub(r"_(\w)", lambda m: m.group(1).upper(), parameter)):
                fill.setdefault(name, value)
        self.values.fill = fill
        return self.values.value(operation.body, full=full)

    def uploads(self, operation: Operation) -> dict:
        """A file for each binary property of an upload's multipart body (a CSV carrying the mark)."""
        from quart.datastructures import FileStorage

        schema = self.kit.document.resolve(operation.multipart)
        return {name: FileStorage(io.BytesIO(f"name\n{self.values.token()}\n".encode()), filename="sweep.csv",
                                  content_type="text/csv")
                for name, part in schema.get("properties", {}).items() if part.get("format") == "binary"}

    async def _create(self, family: Family) -> str:
        """The resource, made with every property (else the required ones); its id."""
        operation = family.create
        if operation.name not in self.answers:
            path = await self.path(operation)
            failures = []
            for full in (True, False):
                if operation.multipart is not None:  # an upload: a small CSV in each binary part
                    body = None
                    response, answer = await self.api.request(operation.method, path, files=self.uploads(operation))
                else:
                    body = await self.body(operation, full=full, creating=family.parameter)
                    response, answer = await self.api.request(operation.method, path, body)
                if 200 <= response.status_code < 300:
                    break
                failures.append(f"{response.status_code} {answer}")
            else:
                raise Ungenerated(f"{operation.name} did not create {{{family.parameter}}}: {failures}")
            if isinstance(answer, dict) and answer.get("job_id"):
                await self.api.wait_for_job(answer["job_id"], timeout=120)
            self.answers[operation.name] = (body, answer)
        body, answer = self.answers[operation.name]
        if family.key is not None:  # "contact.id": a key inside the answer
            for part in family.key.split("."):
                answer = answer[part]
            return str(answer)
        if isinstance(answer, dict) and "id" in answer:
            return str(answer["id"])
        found = find_key(body, family.parameter)
        if found is None:
            raise Ungenerated(f"{operation.name}: the answer names no id and the body no {family.parameter}")
        return str(found)

    # -- what the organization has ----------------------------------------------------------------

    async def reads(self) -> list[tuple[Operation, str]]:
        """(operation, path) of every GET the organization's admin can make on its own data: the
        protected ones whose path parameters are its resources, except VOLATILE_READS."""
        found = []
        for operation in self.kit.document.operations:
            if operation.method != "GET" or operation.permission is None or operation.name in VOLATILE_READS:
                continue
            if any(parameter not in self.kit.families for parameter in operation.parameters):
                continue
            found.append((operation, await self.path(operation)))
        return found

    async def state(self) -> dict[str, Any]:
        """Every read's status and answer (without VOLATILE_FIELDS), by path: what a request that
        must change nothing must leave as it was."""
        await self.settle()
        state = {}
        for _, path in await self.reads():
            response, answer = await self.api.request("GET", path)
            state[path] = (response.status_code, without_volatile(answer))
        return state

    async def settle(self) -> None:
        """Wait for the organization's jobs to finish (a job changes its rows as it runs)."""
        deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
        while True:
            response, answer = await self.api.request("GET", "/api/v1/jobs?status=pending,running")
            assert response.status_code == 200, answer
            if not answer["jobs"]:
                return
            assert asyncio.get_running_loop().time() < deadline, f"jobs still running: {answer['jobs']}"
            await asyncio.sleep(0.05)


def record_refused(response, answer: Any, field: str | None = None) -> bool:
    """The recommender's ingest routes validate each record on its own (seed 003 §9): a bad
    record is refused by a 2xx listing it under `validation_errors`, nothing accepted (and the
    reason names `field`, when given). Mautic's batch routes do the same in Mautic's shape: a 2xx
    with each refused record's 400 under `errors` and nothing in `contacts`."""
    if (200 <= response.status_code < 300 and isinstance(answer, dict) and not answer.get("contacts")
            and isinstance(answer.get("errors"), dict) and answer["errors"]):
        [error] = list(answer["errors"].values())[:1]
        return error.get("code") == 400 and (field is None or field in json.dumps(error.get("details")))
    if not (200 <= response.status_code < 300 and isinstance(answer, dict) and answer.get("accepted") == 0
            and answer.get("rejected", 0) >= 1 and answer.get("validation_errors")):
        return False
    return field is None or answer["validation_errors"][0]["error"].startswith(f"{field}:")


def find_key(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        values = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = find_key(item, key)
        if found is not None:
            return found
    return None


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE_FIELDS}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def state_changes(before: dict, after: dict) -> list[str]:
    return [f"{path}: {before.get(path)!r:.300} -> {after.get(path)!r:.300}"
            for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]


# -- the app under the sweeps -------------------------------------------------------------------


@asynccontextmanager
async def sweeping(app, owner: str, *others: str) -> AsyncIterator[tuple]:
    """(kit, the owner, the others) for a module's sweeps: new organizations by these names, the
    owner with one resource of every kind, while `Sweeping` holds."""
    kit = await Kit.of(app)
    with Sweeping(kit.hub):
        tenants = [await kit.tenant(name) for name in (owner, *others)]
        for parameter in kit.families:
            await tenants[0].id_for(parameter)
        yield (kit, *tenants)


class Sweeping:
    """For a module's sweeps: no rate limits (they send thousands of requests; the limiter has
    its own tests), and webhooks may point at the loopback (WEBHOOK_URL)."""

    def __init__(self, hub) -> None:
        self.hub = hub

    def __enter__(self) -> "Sweeping":
        async def unlimited(rule, identity) -> None:
            return None

        # the limiter's rules come from settings and plugins' plans: its verdict is what is lifted
        current_limiter(self.hub).enforce = unlimited
        self.webhooks = self.hub.settings.webhooks
        self.hub.settings.webhooks = WebhookSettings(allowlist=["127.0.0.1"], max_attempts=1, timeout_seconds=5)
        return self

    def __exit__(self, *exc_info) -> None:
        del current_limiter(self.hub).enforce  # the class's again
        self.hub.settings.webhooks = self.webhooks
