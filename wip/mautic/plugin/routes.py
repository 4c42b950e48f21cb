"""Mautic's REST API under this plugin's mount (`/mautic` by default), as Mautic serves it:
HTTP Basic (a Hub user's email and password, or any name and a Hub API key as the password)
or OAuth2 client credentials (`/oauth/v2/token`, the client is a Hub API key); bodies as JSON
or form-encoded (PHP-style `a[b][]=` keys); lists as `{"total", "<things>": {id: ...}}` with
`search`, `start`, `limit`, `orderBy`, `orderByDir`; errors as
`{"errors": [{"code", "message", "details", "type"}]}`; every answer with `Mautic-Version`.

    POST /oauth/v2/token                                    (grant_type client_credentials | refresh_token)
    GET  /api/contacts            GET /api/contacts/{id}     POST /api/contacts/new, /api/contacts/batch/new
    PATCH PUT /api/contacts/{id}/edit    PATCH PUT /api/contacts/batch/edit
    DELETE /api/contacts/{id}/delete     DELETE /api/contacts/batch/delete?ids=1,2
    POST /api/contacts/{id}/dnc/{channel}/add|remove        POST /api/contacts/{id}/points/{operator}/{delta}
    GET  /api/contacts/{id}/segments, /campaigns            GET /api/contacts/list/fields
    GET  /api/segments  GET /api/segments/{id}  POST /api/segments/new  PATCH PUT .../{id}/edit  DELETE .../{id}/delete
    POST /api/segments/{id}/contact/{contactId}/add|remove  POST /api/segments/{id}/contacts/add
    GET  /api/emails  GET /api/emails/{id}  POST /api/emails/new  PATCH PUT .../{id}/edit  DELETE .../{id}/delete
    POST /api/emails/{id}/send    POST /api/emails/{id}/contact/{contactId}/send
    GET  /api/campaigns  GET /api/campaigns/{id}  POST /api/campaigns/new  PATCH PUT .../{id}/edit  DELETE .../{id}/delete
    POST /api/campaigns/{id}/contact/{contactId}/add|remove GET /api/campaigns/{id}/contacts
    GET  /api/campaigns/{id}/events/contact/{contactId}     GET /api/campaigns/events/contact/{contactId}
    GET  /email/{hash}.gif  GET /r/{hash}?url=  GET /email/unsubscribe/{hash}   (public: tracking)

The `mautic` PyPI client's older path orders (`/dnc/add/{channel}`, `/contact/add/{id}`,
`/send/contact/{id}`) are served too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Response, redirect, request
from quart_schema import (
    RequestSchemaValidationError,
    document_request,
    document_response,
    hide,
)

from core import (
    HubError,
    Principal,
    current_hub,
    current_org_id,
    current_principal,
    document_errors,
    json_as_text,
    principal_for_api_key,
    principal_from_credential,
    principal_from_password,
    public,
    require,
    transaction,
    utcnow,
    validate_query,
)
from plugins.integrations.mautic import campaigns as campaign_service
from plugins.integrations.mautic import service
from plugins.integrations.mautic.models import (
    MauticCampaign,
    MauticCampaignContact,
    MauticCampaignEvent,
    MauticCampaignLog,
    MauticContact,
    MauticEmail,
    MauticOAuthToken,
    MauticSegment,
    MauticSegmentMember,
)
from plugins.integrations.mautic.schemas import (
    FIELDS,
    BatchOut,
    CampaignBody,
    CampaignContactsOut,
    CampaignNew,
    CampaignOut,
    CampaignsOfContactOut,
    CampaignsOut,
    ContactBatchBody,
    ContactBody,
    ContactOut,
    ContactsOut,
    DncBody,
    DncRemovedOut,
    EmailBody,
    EmailNew,
    EmailOut,
    EmailsOut,
    EventLogOut,
    FieldsOut,
    IdsQuery,
    ListQuery,
    ListsOut,
    NoBody,
    PageQuery,
    PointsBody,
    RedirectQuery,
    SegmentBody,
    SegmentContactsBody,
    SegmentNew,
    SegmentOut,
    SendBody,
    SendOut,
    SendToContactBody,
    SuccessOut,
    TokenBody,
    TokenOut,
    campaign_json,
    contact_json,
    email_json,
    log_json,
    segment_json,
)
from plugins.integrations.mautic.service import get_row, mautic_error


class MauticErrorItem(BaseModel):
    code: int
    message: str
    details: Any = None
    type: str | None = None


class MauticErrors(BaseModel):
    errors: list[MauticErrorItem]


bp = document_errors(model=MauticErrors)(Blueprint("mautic", __name__))
ACCESS_PREFIX, REFRESH_PREFIX = "mta_", "mtr_"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MESSAGES = {
    400: "Bad request.",
    401: "API authorization denied.",
    403: "You do not have access to the requested area/action.",
    404: "Item was not found.",
    405: "Method not allowed.",
    429: "Too many requests.",
}


def settings():
    return current_hub().plugin_settings("mautic")


def ordered(body: dict, status: int = 200) -> Response:
    """JSON in the order built (Quart's encoder sorts keys): lists keyed by id keep their order."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status,
                    {"Content-Type": "application/json"})


# -- auth ------------------------------------------------------------------------------------------


def _basic_refused() -> HubError:
    return HubError("AUTHENTICATION_FAILED", "Authorization denied, invalid credentials.", {"basic": True})


async def mautic_credentials() -> Principal | None:
    """HTTP Basic (email and password, or an API key as the password) and this plugin's OAuth2
    access tokens; anything else is left to the Hub (its Bearer tokens and API keys)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            username, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _basic_refused() from None
        if not sep or not password:
            raise _basic_refused()
        try:
            if password.startswith(current_hub().settings.auth.api_key_prefix):
                principal = await principal_from_credential(password)
                if principal.kind != "api_key":
                    raise _basic_refused()
                return principal
            return await principal_from_password(username, password, request.remote_addr or "unknown")
        except HubError as error:
            if error.status == 401:
                raise _basic_refused() from None
            raise
    if scheme.lower() == "bearer" and value.strip().startswith(ACCESS_PREFIX):
        row = await MauticOAuthToken.filter(token_hash=_hash(value.strip()), kind="access").first()
        if row is None:
            raise HubError("AUTHENTICATION_FAILED", "The access token provided is invalid.", {"type": "invalid_grant"})
        if row.expires_at <= utcnow():
            raise HubError("AUTHENTICATION_FAILED", "The access token provided has expired.",
                           {"type": "invalid_grant"})
        principal = await principal_for_api_key(row.api_key_id)
        if principal is None:
            raise HubError("AUTHENTICATION_FAILED", "The access token provided is invalid.", {"type": "invalid_grant"})
        return principal
    return None


def mautic_api(permission: str) -> Callable:
    return require(permission, authenticate_with=mautic_credentials)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _oauth_error(error: str, description: str, status: int = 400):
    return {"error": error, "error_description": description}, status, {"Cache-Control": "no-store"}


@bp.post("/oauth/v2/token")
@json_as_text  # JSON, or the form the `mautic` client posts
@public
@document_request(TokenBody)
@document_response(TokenOut)
async def mautic_oauth_token():
    """OAuth2 token endpoint: `client_credentials` (client_id = the Hub API key's id,
    client_secret = the API key) and `refresh_token` (each refresh token is good once)."""
    data = await params()
    client_id, client_secret = data.get("client_id"), data.get("client_secret")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and not client_secret:
        try:
            client_id, _, client_secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error("invalid_client", "The client credentials are invalid")
    grant = data.get("grant_type")
    if grant not in ("client_credentials", "refresh_token"):
        return _oauth_error("unsupported_grant_type", "Grant type not supported: use client_credentials or "
                                                      "refresh_token")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_secret:
        return _oauth_error("invalid_client", "The client credentials are invalid")
    try:
        principal = await principal_from_credential(client_secret)
    except HubError:
        return _oauth_error("invalid_client", "The client credentials are invalid")
    if principal.kind != "api_key" or client_id not in (str(principal.api_key_id), client_secret):
        return _oauth_error("invalid_client", "The client credentials are invalid")
    if grant == "refresh_token":
        token = data.get("refresh_token")
        if not isinstance(token, str) or not token:
            return _oauth_error("invalid_request", "No \"refresh_token\" parameter found")
        used = await MauticOAuthToken.filter(token_hash=_hash(token), kind="refresh", used=False,
                                             api_key_id=principal.api_key_id, expires_at__gt=utcnow()) \
            .update(used=True)
        if not used:
            return _oauth_error("invalid_grant", "Invalid refresh token")
    access, refresh = ACCESS_PREFIX + secrets.token_urlsafe(32), REFRESH_PREFIX + secrets.token_urlsafe(32)
    now, config = utcnow(), settings()
    async with transaction():
        await MauticOAuthToken.filter(kind="access", expires_at__lt=now - timedelta(days=1)).delete()
        await MauticOAuthToken.create(org_id=principal.org_id, token_hash=_hash(access), kind="access",
                                      api_key_id=principal.api_key_id,
                                      expires_at=now + timedelta(seconds=config.access_token_seconds))
        await MauticOAuthToken.create(org_id=principal.org_id, token_hash=_hash(refresh), kind="refresh",
                                      api_key_id=principal.api_key_id,
                                      expires_at=now + timedelta(days=config.refresh_token_days))
    return {"access_token": access, "expires_in": config.access_token_seconds, "token_type": "bearer",
            "scope": None, "refresh_token": refresh}, 200, {"Cache-Control": "no-store"}


# -- Mautic's error body and version header --------------------------------------------------------


def _errors(status: int, message: str, details: Any = None, kind: str | None = None, headers=None):
    return {"errors": [{"code": status, "message": message, "details": details if details is not None else [],
                        "type": kind}]}, status, headers or {}


@bp.errorhandler(HubError)
async def _hub_error(error: HubError):
    details = error.details or {}
    status = error.status
    if "mautic" in details:
        return _errors(status, error.message, details["mautic"])
    if status == 401:
        if details.get("type") == "invalid_grant":
            return _errors(401, error.message, kind="invalid_grant")
        basic = details.get("basic") or request.headers.get("Authorization", "").lower().startswith("basic ")
        message = "Authorization denied, invalid credentials." if basic else MESSAGES[401]
        return _errors(401, message, kind="access_denied", headers=error.headers)
    if status == 403:
        return _errors(403, MESSAGES[403], kind="access_denied")
    if status == 404:
        return _errors(404, MESSAGES[404])
    if status == 400:
        return _errors(400, error.message or MESSAGES[400], details)
    return _errors(status, error.message or MESSAGES.get(status, "Error"), details, headers=error.headers)


@bp.errorhandler(RequestSchemaValidationError)
async def _schema_error(error: RequestSchemaValidationError):
    return _errors(400, MESSAGES[400])


@bp.errorhandler(UnicodeDecodeError)
async def _bad_encoding(error: UnicodeDecodeError):
    return _errors(400, "The body is not valid UTF-8.")


@bp.after_request
async def _version(response: Response) -> Response:
    response.headers["Mautic-Version"] = settings().version
    return response


# -- request bodies and lists ----------------------------------------------------------------------

KEY_PART = re.compile(r"\[([^\]]*)\]")


def _set_path(target: dict, parts: list[str], value: Any) -> None:
    node: Any = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, list):
            if part == "" or not last:
                if last:
                    node.append(value)
                    return
                child: Any = {} if parts[index + 1] != "" else []
                node.append(child)
                node = child
                continue
            node.append(value)
            return
        if last:
            if part == "":
                return
            if part in node and not isinstance(node[part], (dict, list)):  # a repeated plain key: a list
                node[part] = [node[part], value]
            elif part in node and isinstance(node[part], list):
                node[part].append(value)
            else:
                node[part] = value
            return
        following = parts[index + 1]
        if part not in node or not isinstance(node[part], (dict, list)):
            node[part] = [] if following == "" else {}
        node = node[part]


def parse_form(items: list[tuple[str, str]]) -> dict:
    """Form fields with PHP's nesting: `tags[]=a&tags[]=b`, `doNotContact[0][reason]=1`;
    a key repeated without brackets (what `requests` sends for a list) is a list too."""
    result: dict = {}
    for key, value in items[:5000]:
        head = key.split("[", 1)[0]
        parts = [head] + KEY_PART.findall(key[len(head):]) if "[" in key else [key]
        _set_path(result, parts, value)
    return result


async def params() -> dict:
    """The request's parameters: a JSON object, or a form (the `mautic` client posts forms)."""
    if request.mimetype == "application/json" or (request.mimetype or "").endswith("+json"):
        data = await request.get_json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise mautic_error(400, "The body must be a JSON object.")
        return data
    if request.method in ("POST", "PUT", "PATCH"):
        form = await request.form
        return parse_form(list(form.items(multi=True)))
    return {}


def paging(query_args) -> tuple[int, int]:
    config = settings()
    start = query_args.start or 0
    limit = query_args.limit or config.default_limit
    return start, min(max(limit, 1), config.max_limit)


def order(query_args, columns: dict[str, str], default: str = "id") -> list[str]:
    wanted = (query_args.order_by or default).split(".")[-1]
    column = columns.get(wanted) or columns.get(wanted.lower())
    if column is None:
        raise mautic_error(400, f"orderBy: {wanted} cannot be ordered by "
                                f"(one of {', '.join(sorted(columns))}).")
    prefix = "-" if (query_args.order_by_dir or "ASC").upper() == "DESC" else ""
    return [prefix + column] + ([prefix + "id"] if column != "id" else [])


def published_only(query_args) -> bool:
    return bool(query_args.published or query_args.published_only)


def _search_terms(search: str) -> list[tuple[str | None, str, bool]]:
    terms = []
    for word in re.findall(r'(?:[^\s"]+:)?"[^"]*"|\S+', search.strip())[:10]:
        negate = word.startswith("!")
        word = word.lstrip("!")
        field, sep, value = word.partition(":")
        if not sep:
            field, value = None, word
        terms.append((field.lower() if field else None, value.strip('"'), negate))
    return terms


def _like_filter(column: str, value: str) -> dict:
    if "%" not in value:
        return {f"{column}__icontains": value}
    inner = value.strip("%")
    if value.startswith("%") and value.endswith("%"):
        return {f"{column}__icontains": inner}
    if value.startswith("%"):
        return {f"{column}__iendswith": inner}
    if value.endswith("%"):
        return {f"{column}__istartswith": inner}
    return {f"{column}__iexact": value}


def search_query(query, search: str, text_columns: tuple[str, ...], field_columns: dict[str, str]):
    """Mautic's search string: plain words match the text columns; `field:value` one column
    (`%` as a wildcard); `!` negates; `ids:1,2` picks ids."""
    from tortoise.expressions import Q

    for field, value, negate in _search_terms(search):
        if not value:
            continue
        if field == "ids":
            ids = [int(part) for part in value.split(",") if part.strip().isdigit()]
            condition = Q(id__in=ids)
        elif field is not None and field in field_columns:
            column = field_columns[field]
            if column == "id":
                condition = Q(id=int(value)) if value.isdigit() else Q(id=-1)
            else:
                condition = Q(**_like_filter(column, value))
        elif field is not None:
            raise mautic_error(400, f"search: {field} cannot be searched "
                                    f"(one of {', '.join(sorted(field_columns))}, ids).")
        else:
            condition = Q(*[Q(**_like_filter(column, value)) for column in text_columns], join_type="OR")
        query = query.filter(~condition if negate else condition)
    return query


# -- contacts --------------------------------------------------------------------------------------

CONTACT_ORDER = {"id": "id", "email": "email", "firstname": "firstname", "lastname": "lastname",
                 "company": "company", "points": "points", "dateAdded": "created_at", "date_added": "created_at",
                 "dateModified": "updated_at", "date_modified": "updated_at", "lastActive": "last_active",
                 "last_active": "last_active"}
CONTACT_SEARCH = {"id": "id", "email": "email", "firstname": "firstname", "lastname": "lastname", "company": "company",
                  "name": "lastname"}


async def contacts_json(org_id: Any, contacts: list[MauticContact]) -> list[dict]:
    dnc = await service.dnc_of(org_id, [contact.id for contact in contacts])
    return [contact_json(contact, dnc.get(contact.id)) for contact in contacts]


async def one_contact(org_id: Any, contact: MauticContact) -> dict:
    return (await contacts_json(org_id, [contact]))[0]


@bp.get("/api/contacts")
@mautic_api("mautic.read")
@validate_query(ListQuery)
@document_response(ContactsOut)
async def mautic_list_contacts(query_args: ListQuery):
    """Contacts, keyed by id: `search`, `start`, `limit`, `orderBy`, `orderByDir`."""
    org_id = current_org_id()
    start, limit = paging(query_args)
    query = search_query(MauticContact.for_org(org_id), query_args.search or "",
                         ("email", "firstname", "lastname", "company"), CONTACT_SEARCH)
    total = await query.count()
    rows = await query.order_by(*order(query_args, CONTACT_ORDER)).offset(start).limit(limit)
    return ordered({"total": total, "contacts": {str(item["id"]): item for item in await contacts_json(org_id, rows)}})


@bp.get("/api/contacts/<mautic_contact_id>")
@mautic_api("mautic.read")
@document_response(ContactOut)
async def mautic_get_contact(mautic_contact_id: str):
    """One contact."""
    org_id = current_org_id()
    return {"contact": await one_contact(org_id, await get_row(MauticContact, org_id, mautic_contact_id))}


@bp.post("/api/contacts/new")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(ContactBody)
@document_response(ContactOut)
async def mautic_new_contact():
    """Create a contact (201), or update the one with the same email (200)."""
    org_id = current_org_id()
    contact, created = await service.save_contact(org_id, await params(), current_principal())
    return {"contact": await one_contact(org_id, contact)}, 201 if created else 200


def _batch(data: dict) -> list:
    items = data if isinstance(data, list) else list(data.values()) if all(
        str(key).isdigit() for key in data) else [data]
    if not items:
        raise mautic_error(400, "The request must contain at least one item.")
    if len(items) > settings().batch_limit:
        raise mautic_error(400, f"A batch can contain at most {settings().batch_limit} items.")
    return items


async def _batch_body() -> list:
    if request.mimetype == "application/json":
        data = await request.get_json()
        if not isinstance(data, (list, dict)):
            raise mautic_error(400, "The body must be a JSON array of contacts.")
        return _batch(data)
    return _batch(await params())


def _batch_error(index: int, error: HubError) -> dict:
    details = (error.details or {}).get("mautic", [])
    return {"code": error.status, "message": error.message, "details": details, "type": None}


@bp.post("/api/contacts/batch/new")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(ContactBatchBody)
@document_response(BatchOut)
async def mautic_new_contacts():
    """Create (or update, by email) up to `batch_limit` contacts: `statusCodes` per item."""
    org_id, principal = current_org_id(), current_principal()
    contacts, codes, errors = [], [], {}
    for index, item in enumerate(await _batch_body()):
        if not isinstance(item, dict):
            errors[str(index)] = {"code": 400, "message": "Bad request.", "details": [], "type": None}
            codes.append(400)
            continue
        try:
            contact, created = await service.save_contact(org_id, item, principal)
        except HubError as error:
            errors[str(index)] = _batch_error(index, error)
            codes.append(error.status)
            continue
        contacts.append(await one_contact(org_id, contact))
        codes.append(201 if created else 200)
    body: dict[str, Any] = {"contacts": contacts, "statusCodes": codes}
    if errors:
        body["errors"] = errors
    return body, 201


@bp.route("/api/contacts/batch/edit", methods=["PATCH", "PUT"])
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(ContactBatchBody)
@document_response(BatchOut)
async def mautic_edit_contacts():
    """Change contacts by their `id` (PUT creates the missing ones)."""
    org_id, principal = current_org_id(), current_principal()
    contacts, codes, errors = [], [], {}
    for index, item in enumerate(await _batch_body()):
        try:
            if not isinstance(item, dict):
                raise mautic_error(400, "Bad request.")
            contact = await MauticContact.for_org(org_id).filter(
                id=int(item["id"]) if str(item.get("id", "")).isdigit() else -1).first()
            if contact is None and request.method == "PATCH":
                raise service.not_found_item()
            contact, created = await service.save_contact(org_id, item, principal, contact=contact,
                                                          replace=request.method == "PUT")
        except HubError as error:
            errors[str(index)] = _batch_error(index, error)
            codes.append(error.status)
            continue
        contacts.append(await one_contact(org_id, contact))
        codes.append(201 if created else 200)
    body: dict[str, Any] = {"contacts": contacts, "statusCodes": codes}
    if errors:
        body["errors"] = errors
    return body


@bp.delete("/api/contacts/batch/delete")
@mautic_api("mautic.write")
@validate_query(IdsQuery)
@document_response(BatchOut)
async def mautic_delete_contacts(query_args: IdsQuery):
    """Delete the contacts of `ids` (comma-separated or ids[])."""
    org_id = current_org_id()
    raw = query_args.ids.split(",")
    ids = [int(part) for part in raw if str(part).strip().isdigit()][:settings().batch_limit]
    if not ids:
        raise mautic_error(400, "ids: give the ids of the contacts to delete.")
    found = await MauticContact.for_org(org_id).filter(id__in=ids).order_by("id")
    body = {"contacts": await contacts_json(org_id, found)}
    for contact in found:
        await service.delete_contact(org_id, contact)
    missing = [i for i in ids if i not in {contact.id for contact in found}]
    if missing:
        body["errors"] = {str(ids.index(i)): {"code": 404, "message": MESSAGES[404], "details": [], "type": None}
                          for i in missing}
    return body


@bp.route("/api/contacts/<mautic_contact_id>/edit", methods=["PATCH", "PUT"])
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(ContactBody)
@document_response(ContactOut)
async def mautic_edit_contact(mautic_contact_id: str):
    """PATCH changes the given fields of an existing contact; PUT replaces them, or creates the
    contact (201) when there is none with this id."""
    org_id = current_org_id()
    data = await params()
    try:
        contact = await get_row(MauticContact, org_id, mautic_contact_id)
    except HubError:
        if request.method == "PATCH":
            raise
        contact = None
    contact, created = await service.save_contact(org_id, data, current_principal(), contact=contact,
                                                  replace=request.method == "PUT", dedupe=contact is None)
    return {"contact": await one_contact(org_id, contact)}, 201 if created else 200


@bp.delete("/api/contacts/<mautic_contact_id>/delete")
@mautic_api("mautic.write")
@document_response(ContactOut)
async def mautic_delete_contact(mautic_contact_id: str):
    """Delete a contact; the answer is the contact as it was."""
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    body = {"contact": await one_contact(org_id, contact)}
    await service.delete_contact(org_id, contact)
    return body


async def _add_dnc(mautic_contact_id: str, channel: str):
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    data = await params()
    try:
        reason = int(data.get("reason", service.DNC_MANUAL) or 0)
        channel_id = int(data["channelId"]) if str(data.get("channelId") or "").isdigit() else None
    except (TypeError, ValueError):
        reason = 0
    if reason <= 0:
        raise mautic_error(400, "Invalid reason code given", ["Reason code needs to be an integer and higher than 0."])
    await service.add_dnc(org_id, contact, channel, reason, data.get("comments"), channel_id)
    return {"contact": await one_contact(org_id, contact)}


async def _remove_dnc(mautic_contact_id: str, channel: str):
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    found = await service.remove_dnc(org_id, contact, channel)
    return {"recordFound": found, "contact": await one_contact(org_id, contact)}


@bp.post("/api/contacts/<mautic_contact_id>/dnc/<channel>/add")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(DncBody)
@document_response(ContactOut)
async def mautic_add_dnc(mautic_contact_id: str, channel: str):
    """Mark the contact do-not-contact on `channel` (email, sms...): `reason` 1 unsubscribed,
    2 bounced, 3 manual (default), `comments`, `channelId`."""
    return await _add_dnc(mautic_contact_id, channel)


@bp.post("/api/contacts/<mautic_contact_id>/dnc/add/<channel>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(DncBody)
@document_response(ContactOut)
async def mautic_add_dnc_legacy(mautic_contact_id: str, channel: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _add_dnc(mautic_contact_id, channel)


@bp.post("/api/contacts/<mautic_contact_id>/dnc/<channel>/remove")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(DncRemovedOut)
async def mautic_remove_dnc(mautic_contact_id: str, channel: str):
    """Lift the contact's do-not-contact on `channel` (`recordFound` says whether there was one)."""
    return await _remove_dnc(mautic_contact_id, channel)


@bp.post("/api/contacts/<mautic_contact_id>/dnc/remove/<channel>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(DncRemovedOut)
async def mautic_remove_dnc_legacy(mautic_contact_id: str, channel: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _remove_dnc(mautic_contact_id, channel)


@bp.post("/api/contacts/<mautic_contact_id>/points/<operator>/<delta>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(PointsBody)
@document_response(SuccessOut)
async def mautic_adjust_points(mautic_contact_id: str, operator: str, delta: str):
    """Change the contact's points: operator plus, minus, times or divide."""
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    await service.adjust_points(org_id, contact, operator, delta)
    return {"success": 1}


@bp.get("/api/contacts/<mautic_contact_id>/segments")
@mautic_api("mautic.read")
@document_response(ListsOut)
async def mautic_contact_segments(mautic_contact_id: str):
    """The segments the contact is in."""
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    rows = await MauticSegmentMember.for_org(org_id).filter(contact_id=contact.id, manually_removed=False)
    segments = await service.segments_by_id(org_id, [row.segment_id for row in rows])
    added = {row.segment_id: row.created_at for row in rows}
    return {"total": len(segments), "lists": {
        str(segment.id): {"id": segment.id, "name": segment.name, "alias": segment.alias,
                          "dateAdded": _iso(added[segment.id])} for segment in segments}}


@bp.get("/api/contacts/<mautic_contact_id>/campaigns")
@mautic_api("mautic.read")
@document_response(CampaignsOfContactOut)
async def mautic_contact_campaigns(mautic_contact_id: str):
    """The campaigns the contact is in."""
    org_id = current_org_id()
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    rows = await MauticCampaignContact.for_org(org_id).filter(contact_id=contact.id)
    found = {row.id: row for row in await MauticCampaign.for_org(org_id).filter(id__in=[r.campaign_id for r in rows])}
    return {"total": len(found), "campaigns": {
        str(row.campaign_id): {"id": row.campaign_id, "name": found[row.campaign_id].name,
                               "dateAdded": _iso(row.created_at), "manuallyRemoved": row.manually_removed,
                               "manuallyAdded": row.manually_added}
        for row in rows if row.campaign_id in found}}


@bp.get("/api/contacts/list/fields")
@mautic_api("mautic.read")
@document_response(FieldsOut)
async def mautic_contact_fields():
    """The contact fields, keyed by id."""
    return {str(index): {"id": index, "label": label, "alias": alias, "type": kind, "group": group, "order": index,
                         "object": "lead", "isPublished": True, "isFixed": True}
            for index, (alias, (label, kind, group)) in enumerate(FIELDS.items(), start=1)}


def _iso(value) -> str | None:
    from core import iso

    return iso(value)


# -- segments --------------------------------------------------------------------------------------

SEGMENT_ORDER = {"id": "id", "name": "name", "alias": "alias", "dateAdded": "created_at", "dateModified": "updated_at"}
SEGMENT_SEARCH = {"id": "id", "name": "name", "alias": "alias"}


def _alias(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:180] or "segment"


async def _save_segment(org_id: Any, data: dict, segment: MauticSegment | None, replace: bool) -> MauticSegment:
    principal = current_principal()
    created = segment is None
    name = data.get("name")
    if (created or replace or "name" in data) and not (isinstance(name, str) and name.strip()):
        raise mautic_error(400, "name: A name is required.", {"name": ["A name is required."]})
    for key in ("name", "alias"):
        if isinstance(data.get(key), str) and len(data[key].strip()) > 191:
            raise mautic_error(400, f"{key}: This value is too long.", {key: ["This value is too long."]})
    filters = service.check_filters(data.get("filters")) if "filters" in data or replace else None
    async with transaction():
        if created:
            segment = MauticSegment(org_id=org_id, created_by=principal.user_id, created_by_name=principal.email)
        if name is not None:
            segment.name = name.strip()[:191]
        if "alias" in data or created:
            segment.alias = _alias(str(data.get("alias") or segment.name))
        if "description" in data or replace:
            segment.description = data.get("description")
        if "isPublished" in data or replace:
            segment.is_published = service.as_bool(data.get("isPublished", True))
        if "isGlobal" in data or replace:
            segment.is_global = service.as_bool(data.get("isGlobal", True))
        if filters is not None:
            segment.filters = filters
        await segment.save()
    if filters is not None or not created:
        if segment.filters:
            added = await service.recompute_segment(org_id, segment)
        else:  # static again: the members that filters put in go
            await MauticSegmentMember.for_org(org_id).filter(segment_id=segment.id, manually_added=False).delete()
            added = []
        if added:
            await service.segments_grew(org_id, [segment.id])
    return segment


@bp.get("/api/segments")
@mautic_api("mautic.read")
@validate_query(ListQuery)
@document_response(ListsOut)
async def mautic_list_segments(query_args: ListQuery):
    """Segments, keyed by id (`lists`)."""
    org_id = current_org_id()
    start, limit = paging(query_args)
    query = search_query(MauticSegment.for_org(org_id), query_args.search or "", ("name", "alias"),
                         SEGMENT_SEARCH)
    if published_only(query_args):
        query = query.filter(is_published=True)
    total = await query.count()
    rows = await query.order_by(*order(query_args, SEGMENT_ORDER)).offset(start).limit(limit)
    return ordered({"total": total, "lists": {str(row.id): segment_json(row) for row in rows}})


@bp.get("/api/segments/<mautic_segment_id>")
@mautic_api("mautic.read")
@document_response(SegmentOut)
async def mautic_get_segment(mautic_segment_id: str):
    """One segment."""
    return {"list": segment_json(await get_row(MauticSegment, current_org_id(), mautic_segment_id))}


@bp.post("/api/segments/new")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(SegmentNew)
@document_response(SegmentOut)
async def mautic_new_segment():
    """Create a segment: `name`, `alias`, `description`, `isPublished`, `filters` (none: a
    static segment)."""
    segment = await _save_segment(current_org_id(), await params(), None, False)
    return {"list": segment_json(segment)}, 201


@bp.route("/api/segments/<mautic_segment_id>/edit", methods=["PATCH", "PUT"])
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(SegmentBody)
@document_response(SegmentOut)
async def mautic_edit_segment(mautic_segment_id: str):
    """Change a segment (PUT: replace, or create when missing); members follow new filters."""
    org_id = current_org_id()
    data = await params()
    try:
        segment = await get_row(MauticSegment, org_id, mautic_segment_id)
    except HubError:
        if request.method == "PATCH":
            raise
        segment = None
    created = segment is None
    segment = await _save_segment(org_id, data, segment, request.method == "PUT")
    return {"list": segment_json(segment)}, 201 if created else 200


@bp.delete("/api/segments/<mautic_segment_id>/delete")
@mautic_api("mautic.write")
@document_response(SegmentOut)
async def mautic_delete_segment(mautic_segment_id: str):
    """Delete a segment."""
    org_id = current_org_id()
    segment = await get_row(MauticSegment, org_id, mautic_segment_id)
    body = {"list": segment_json(segment)}
    async with transaction():
        await MauticSegmentMember.for_org(org_id).filter(segment_id=segment.id).delete()
        await segment.delete()
    return body


async def _segment_member(mautic_segment_id: str, mautic_contact_id: str, add: bool):
    org_id = current_org_id()
    segment = await get_row(MauticSegment, org_id, mautic_segment_id)
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    row = await MauticSegmentMember.for_org(org_id).filter(segment_id=segment.id, contact_id=contact.id).first()
    if row is None:
        row = MauticSegmentMember(org_id=org_id, segment_id=segment.id, contact_id=contact.id)
    row.manually_added, row.manually_removed = add, not add
    await row.save()
    if add:
        await service.segments_grew(org_id, [segment.id])
    return {"success": 1}


@bp.post("/api/segments/<mautic_segment_id>/contact/<mautic_contact_id>/add")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_segment_add(mautic_segment_id: str, mautic_contact_id: str):
    """Put a contact in a segment by hand."""
    return await _segment_member(mautic_segment_id, mautic_contact_id, True)


@bp.post("/api/segments/<mautic_segment_id>/contact/add/<mautic_contact_id>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_segment_add_legacy(mautic_segment_id: str, mautic_contact_id: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _segment_member(mautic_segment_id, mautic_contact_id, True)


@bp.post("/api/segments/<mautic_segment_id>/contact/<mautic_contact_id>/remove")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_segment_remove(mautic_segment_id: str, mautic_contact_id: str):
    """Take a contact out of a segment by hand (filters do not put it back)."""
    return await _segment_member(mautic_segment_id, mautic_contact_id, False)


@bp.post("/api/segments/<mautic_segment_id>/contact/remove/<mautic_contact_id>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_segment_remove_legacy(mautic_segment_id: str, mautic_contact_id: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _segment_member(mautic_segment_id, mautic_contact_id, False)


@bp.post("/api/segments/<mautic_segment_id>/contacts/add")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(SegmentContactsBody)
@document_response(SuccessOut)
async def mautic_segment_add_many(mautic_segment_id: str):
    """Put the contacts of `ids` in a segment: `details` per contact."""
    org_id = current_org_id()
    segment = await get_row(MauticSegment, org_id, mautic_segment_id)
    data = await params()
    ids = data.get("ids") or []
    ids = list(ids.values()) if isinstance(ids, dict) else ids if isinstance(ids, list) else [ids]
    details = {}
    for raw in ids[:settings().batch_limit]:
        contact = await MauticContact.for_org(org_id).filter(id=int(raw) if str(raw).isdigit() else -1).first()
        if contact is None:
            details[str(raw)] = {"success": False}
            continue
        row, _ = await MauticSegmentMember.get_or_create(org_id=org_id, segment_id=segment.id, contact_id=contact.id)
        row.manually_added, row.manually_removed = True, False
        await row.save()
        details[str(raw)] = {"success": True}
    await service.segments_grew(org_id, [segment.id])
    return {"success": 1, "details": details}


# -- emails ----------------------------------------------------------------------------------------

EMAIL_ORDER = {"id": "id", "name": "name", "subject": "subject", "dateAdded": "created_at",
               "dateModified": "updated_at", "sentCount": "sent_count", "readCount": "read_count"}
EMAIL_SEARCH = {"id": "id", "name": "name", "subject": "subject"}


def base_url() -> str:
    return (settings().public_url or request.host_url).rstrip("/")


async def _email_out(org_id: Any, email: MauticEmail) -> dict:
    return email_json(email, await service.segments_by_id(org_id, email.segment_ids))


def _text(data: dict, key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int, float)):
        raise mautic_error(400, f"{key}: This value is not valid.", {key: ["This value is not valid."]})
    value = str(value)
    if len(value) > limit:
        raise mautic_error(400, f"{key}: This value is too long.", {key: ["This value is too long."]})
    return value


async def _save_email(org_id: Any, data: dict, email: MauticEmail | None, replace: bool) -> MauticEmail:
    principal = current_principal()
    created = email is None
    if (created or replace or "name" in data) and not _text(data, "name", 191):
        raise mautic_error(400, "name: A name is required.", {"name": ["A name is required."]})
    kind = data.get("emailType", "template" if created or replace else email.email_type)
    if kind not in ("template", "list"):
        raise mautic_error(400, "emailType: template or list.", {"emailType": ["template or list"]})
    segment_ids = await service.check_segment_ids(org_id, data.get("lists")) if "lists" in data or replace else None
    for key in ("fromAddress", "replyToAddress"):
        value = _text(data, key, 255)
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise mautic_error(400, f"{key}: A valid email is required.", {key: ["A valid email is required."]})
    if created:
        email = MauticEmail(org_id=org_id, created_by=principal.user_id, created_by_name=principal.email)
    for key, attribute, limit in (("name", "name", 191), ("subject", "subject", 998), ("customHtml", "custom_html", 500_000),
                                  ("plainText", "plain_text", 500_000), ("fromAddress", "from_address", 255),
                                  ("fromName", "from_name", 255), ("replyToAddress", "reply_to_address", 255)):
        if key in data or replace:
            setattr(email, attribute, _text(data, key, limit))
    email.email_type = kind
    if "isPublished" in data or replace:
        email.is_published = service.as_bool(data.get("isPublished", True))
    if segment_ids is not None:
        email.segment_ids = segment_ids
    await email.save()
    return email


@bp.get("/api/emails")
@mautic_api("mautic.read")
@validate_query(ListQuery)
@document_response(EmailsOut)
async def mautic_list_emails(query_args: ListQuery):
    """Emails, keyed by id."""
    org_id = current_org_id()
    start, limit = paging(query_args)
    query = search_query(MauticEmail.for_org(org_id), query_args.search or "", ("name", "subject"),
                         EMAIL_SEARCH)
    if published_only(query_args):
        query = query.filter(is_published=True)
    total = await query.count()
    rows = await query.order_by(*order(query_args, EMAIL_ORDER)).offset(start).limit(limit)
    return ordered({"total": total, "emails": {str(row.id): await _email_out(org_id, row) for row in rows}})


@bp.get("/api/emails/<mautic_email_id>")
@mautic_api("mautic.read")
@document_response(EmailOut)
async def mautic_get_email(mautic_email_id: str):
    """One email."""
    org_id = current_org_id()
    return {"email": await _email_out(org_id, await get_row(MauticEmail, org_id, mautic_email_id))}


@bp.post("/api/emails/new")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(EmailNew)
@document_response(EmailOut)
async def mautic_new_email():
    """Create an email: `name`, `subject`, `customHtml`, `plainText` (tokens such as
    `{contactfield=firstname}`, `{unsubscribe_url}`), `emailType` template|list, `lists`."""
    org_id = current_org_id()
    email = await _save_email(org_id, await params(), None, False)
    return {"email": await _email_out(org_id, email)}, 201


@bp.route("/api/emails/<mautic_email_id>/edit", methods=["PATCH", "PUT"])
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(EmailBody)
@document_response(EmailOut)
async def mautic_edit_email(mautic_email_id: str):
    """Change an email (PUT: replace, or create when missing)."""
    org_id = current_org_id()
    data = await params()
    try:
        email = await get_row(MauticEmail, org_id, mautic_email_id)
    except HubError:
        if request.method == "PATCH":
            raise
        email = None
    created = email is None
    email = await _save_email(org_id, data, email, request.method == "PUT")
    return {"email": await _email_out(org_id, email)}, 201 if created else 200


@bp.delete("/api/emails/<mautic_email_id>/delete")
@mautic_api("mautic.write")
@document_response(EmailOut)
async def mautic_delete_email(mautic_email_id: str):
    """Delete an email."""
    org_id = current_org_id()
    email = await get_row(MauticEmail, org_id, mautic_email_id)
    body = {"email": await _email_out(org_id, email)}
    await email.delete()
    return body


@bp.post("/api/emails/<mautic_email_id>/send")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.send")
@document_request(SendBody)
@document_response(SendOut)
async def mautic_send_email(mautic_email_id: str):
    """Send a segment email to the contacts of its segments (`lists`: some of them) that have
    not had it and are not do-not-contact."""
    org_id = current_org_id()
    email = await get_row(MauticEmail, org_id, mautic_email_id)
    if not email.is_published:
        raise service.not_found_item()
    data = await params()
    lists = await service.check_segment_ids(org_id, data["lists"]) if data.get("lists") else None
    limit = int(data["limit"]) if str(data.get("limit") or "").isdigit() else None
    limit = min(limit or settings().send_limit, settings().send_limit)  # the rest: send again
    sent, failed = await service.send_to_segments(org_id, email, current_principal(), base_url(), lists, limit)
    return {"success": 1, "sentCount": sent, "failedRecipients": failed, "failedCount": failed}


async def _send_to_contact(mautic_email_id: str, mautic_contact_id: str):
    org_id = current_org_id()
    email = await get_row(MauticEmail, org_id, mautic_email_id)
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    data = await params()
    ok, why = await service.send_to_contact(org_id, email, contact, current_principal(), base_url(),
                                            service.clean_tokens(data.get("tokens")))
    return {"success": 1} if ok else {"success": False, "failed": [why]}


@bp.post("/api/emails/<mautic_email_id>/contact/<mautic_contact_id>/send")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.send")
@document_request(SendToContactBody)
@document_response(SuccessOut)
async def mautic_send_email_to_contact(mautic_email_id: str, mautic_contact_id: str):
    """Send an email to one contact (`tokens`: {"{name}": value} of your own); a contact marked
    do-not-contact for email gets nothing (`{"success": false, "failed": [...]}`)."""
    return await _send_to_contact(mautic_email_id, mautic_contact_id)


@bp.post("/api/emails/<mautic_email_id>/send/contact/<mautic_contact_id>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.send")
@document_request(SendToContactBody)
@document_response(SuccessOut)
async def mautic_send_email_to_contact_legacy(mautic_email_id: str, mautic_contact_id: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _send_to_contact(mautic_email_id, mautic_contact_id)


# -- tracking (public: the links in the emails) ----------------------------------------------------


@bp.get("/email/<tracking_hash>.gif")
@public
@hide
async def mautic_open_pixel(tracking_hash: str):
    """The open-tracking pixel: a 1x1 GIF, whatever the hash."""
    if re.fullmatch(r"[0-9a-f]{32}", tracking_hash):
        await service.opened(tracking_hash)
    return Response(PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store"})


@bp.get("/r/<tracking_hash>")
@public
@hide
@validate_query(RedirectQuery)
async def mautic_click_redirect(tracking_hash: str, query_args: RedirectQuery):
    """A tracked link: a 302 to `url`, only if it is one of that email's links (else 404)."""
    url = query_args.url
    if not re.fullmatch(r"[0-9a-f]{32}", tracking_hash) or not url:
        raise service.not_found_item()
    return redirect(await service.clicked(tracking_hash, url), 302)


@bp.get("/email/unsubscribe/<tracking_hash>")
@public
@hide
async def mautic_unsubscribe(tracking_hash: str):
    """The unsubscribe link: the contact becomes do-not-contact for email (reason 1)."""
    done = re.fullmatch(r"[0-9a-f]{32}", tracking_hash) is not None and await service.unsubscribe(tracking_hash)
    if not done:
        raise service.not_found_item()
    page = "<!doctype html><html><body><p>You have been unsubscribed.</p></body></html>"
    return Response(page, 200, {"Content-Type": "text/html; charset=utf-8"})


# -- campaigns -------------------------------------------------------------------------------------

CAMPAIGN_ORDER = {"id": "id", "name": "name", "dateAdded": "created_at", "dateModified": "updated_at"}
CAMPAIGN_SEARCH = {"id": "id", "name": "name"}


async def campaigns_json(org_id: Any, rows: list[MauticCampaign]) -> list[dict]:
    events = await campaign_service.events_of(org_id, [row.id for row in rows])
    return [campaign_json(row, events[row.id], await service.segments_by_id(org_id, row.segment_ids)) for row in rows]


@bp.get("/api/campaigns")
@mautic_api("mautic.read")
@validate_query(ListQuery)
@document_response(CampaignsOut)
async def mautic_list_campaigns(query_args: ListQuery):
    """Campaigns keyed by id, each with its events keyed by id: `search`, `start`, `limit`,
    `published`, `orderBy`, `orderByDir`."""
    org_id = current_org_id()
    start, limit = paging(query_args)
    query = search_query(MauticCampaign.for_org(org_id), query_args.search or "", ("name",), CAMPAIGN_SEARCH)
    if published_only(query_args):
        query = query.filter(is_published=True)
    total = await query.count()
    rows = await query.order_by(*order(query_args, CAMPAIGN_ORDER)).offset(start).limit(limit)
    return ordered({"total": total, "campaigns": {str(item["id"]): item for item in await campaigns_json(org_id, rows)}})


@bp.get("/api/campaigns/<mautic_campaign_id>")
@mautic_api("mautic.read")
@document_response(CampaignOut)
async def mautic_get_campaign(mautic_campaign_id: str):
    """One campaign."""
    org_id = current_org_id()
    return ordered({"campaign": (await campaigns_json(org_id, [await get_row(MauticCampaign, org_id, mautic_campaign_id)]))[0]})


@bp.post("/api/campaigns/new")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(CampaignNew)
@document_response(CampaignOut)
async def mautic_new_campaign():
    """Create a campaign: `name`, `description`, `isPublished` (a published campaign runs),
    `lists` (segment ids), `events` ([{id: "new1", name, type, eventType, properties,
    triggerMode, triggerInterval, triggerIntervalUnit, parent: "new1", decisionPath}])."""
    org_id = current_org_id()
    campaign, _ = await campaign_service.save_campaign(org_id, await params(), current_principal(), base_url())
    return ordered({"campaign": (await campaigns_json(org_id, [campaign]))[0]}, 201)


@bp.route("/api/campaigns/<mautic_campaign_id>/edit", methods=["PATCH", "PUT"])
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(CampaignBody)
@document_response(CampaignOut)
async def mautic_edit_campaign(mautic_campaign_id: str):
    """Change a campaign (events given replace its events; PUT: replace, or create when missing)."""
    org_id = current_org_id()
    data = await params()
    try:
        campaign = await get_row(MauticCampaign, org_id, mautic_campaign_id)
    except HubError:
        if request.method == "PATCH":
            raise
        campaign = None
    campaign, created = await campaign_service.save_campaign(org_id, data, current_principal(), base_url(),
                                                             campaign=campaign, replace=request.method == "PUT")
    return ordered({"campaign": (await campaigns_json(org_id, [campaign]))[0]}, 201 if created else 200)


@bp.delete("/api/campaigns/<mautic_campaign_id>/delete")
@mautic_api("mautic.write")
@document_response(CampaignOut)
async def mautic_delete_campaign(mautic_campaign_id: str):
    """Delete a campaign with its events and progress."""
    org_id = current_org_id()
    campaign = await get_row(MauticCampaign, org_id, mautic_campaign_id)
    body = {"campaign": (await campaigns_json(org_id, [campaign]))[0]}
    await campaign_service.delete_campaign(org_id, campaign)
    return body


async def _campaign_member(mautic_campaign_id: str, mautic_contact_id: str, add: bool):
    org_id = current_org_id()
    campaign = await get_row(MauticCampaign, org_id, mautic_campaign_id)
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    if add:
        await campaign_service.add_contact(org_id, campaign, contact)
    else:
        await campaign_service.remove_contact(org_id, campaign, contact)
    return {"success": 1}


@bp.post("/api/campaigns/<mautic_campaign_id>/contact/<mautic_contact_id>/add")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_campaign_add(mautic_campaign_id: str, mautic_contact_id: str):
    """Put a contact in a campaign by hand."""
    return await _campaign_member(mautic_campaign_id, mautic_contact_id, True)


@bp.post("/api/campaigns/<mautic_campaign_id>/contact/add/<mautic_contact_id>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_campaign_add_legacy(mautic_campaign_id: str, mautic_contact_id: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _campaign_member(mautic_campaign_id, mautic_contact_id, True)


@bp.post("/api/campaigns/<mautic_campaign_id>/contact/<mautic_contact_id>/remove")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_campaign_remove(mautic_campaign_id: str, mautic_contact_id: str):
    """Take a contact out of a campaign (its waiting events are skipped)."""
    return await _campaign_member(mautic_campaign_id, mautic_contact_id, False)


@bp.post("/api/campaigns/<mautic_campaign_id>/contact/remove/<mautic_contact_id>")
@json_as_text  # JSON, or the form the `mautic` client posts
@mautic_api("mautic.write")
@document_request(NoBody)
@document_response(SuccessOut)
async def mautic_campaign_remove_legacy(mautic_campaign_id: str, mautic_contact_id: str):
    """The same, in the path order of the `mautic` PyPI client."""
    return await _campaign_member(mautic_campaign_id, mautic_contact_id, False)


@bp.get("/api/campaigns/<mautic_campaign_id>/contacts")
@mautic_api("mautic.read")
@validate_query(PageQuery)
@document_response(CampaignContactsOut)
async def mautic_campaign_contacts(mautic_campaign_id: str, query_args: PageQuery):
    """The campaign's contacts, each with its progress (`events`: how many it ran)."""
    org_id = current_org_id()
    campaign = await get_row(MauticCampaign, org_id, mautic_campaign_id)
    start, limit = paging(query_args)
    query = MauticCampaignContact.for_org(org_id).filter(campaign_id=campaign.id)
    total = await query.count()
    rows = await query.order_by("contact_id").offset(start).limit(limit)
    logs = await MauticCampaignLog.for_org(org_id).filter(campaign_id=campaign.id,
                                                          contact_id__in=[row.contact_id for row in rows])
    progress: dict[int, dict[str, int]] = {}
    for entry in logs:
        counts = progress.setdefault(entry.contact_id, {})
        counts[entry.status] = counts.get(entry.status, 0) + 1
    return {"total": total, "contacts": [
        {"campaign_id": str(campaign.id), "lead_id": str(row.contact_id), "date_added": _iso(row.created_at),
         "manually_removed": "1" if row.manually_removed else "0", "manually_added": "1" if row.manually_added else "0",
         "date_last_exited": None, "rotation": "1", "events": progress.get(row.contact_id, {})} for row in rows]}


async def _logs(org_id: Any, contact: MauticContact, campaign: MauticCampaign | None) -> dict:
    query = MauticCampaignLog.for_org(org_id).filter(contact_id=contact.id)
    if campaign is not None:
        query = query.filter(campaign_id=campaign.id)
    rows = await query.order_by("id")
    events = {row.id: row for row in await MauticCampaignEvent.for_org(org_id).filter(
        id__in=list({row.event_id for row in rows}))}
    return {"total": len(rows), "events": [log_json(row, events.get(row.event_id)) for row in rows]}


@bp.get("/api/campaigns/<mautic_campaign_id>/events/contact/<mautic_contact_id>")
@mautic_api("mautic.read")
@document_response(EventLogOut)
async def mautic_campaign_contact_events(mautic_campaign_id: str, mautic_contact_id: str):
    """A contact's progress in a campaign: each event reached, its status and when it ran."""
    org_id = current_org_id()
    campaign = await get_row(MauticCampaign, org_id, mautic_campaign_id)
    contact = await get_row(MauticContact, org_id, mautic_contact_id)
    return await _logs(org_id, contact, campaign)


@bp.get("/api/campaigns/events/contact/<mautic_contact_id>")
@mautic_api("mautic.read")
@document_response(EventLogOut)
async def mautic_contact_events(mautic_contact_id: str):
    """A contact's progress in every campaign."""
    org_id = current_org_id()
    return await _logs(org_id, await get_row(MauticContact, org_id, mautic_contact_id), None)

