"""The dashboard's pages, under the plugin's mount (`/dashboard`).

Pages are server-rendered (Jinja2). A page view reads through the Hub's JSON API in-process
(`HubApi`, with the session's token); a form posts back to the dashboard with the session's CSRF
token, the view calls the API and redirects (303) to the page, or shows the API's error. The
views authenticate by the browser session (core `browser_session`): they are `@public` to the
core's bearer-token check and do their own, per page: no session → the sign-in page; the
dashboard or the page's plugin off for the organization → 404; the page's permission missing →
403; a form without the session's CSRF token → 403. Hidden from /openapi.json (not an API).
"""

from __future__ import annotations

import json
import secrets
from functools import wraps
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from quart import Blueprint, Response, g, redirect, render_template, request, send_from_directory, url_for
from quart_schema import hide

from core import (
    HubError,
    browser_session,
    call_function,
    current_hub,
    plugin_settings,
    public,
    served_over_https,
    sign_in,
    sign_out,
)
from plugins.dashboard import service
from plugins.dashboard.service import ENTRIES, HubApi, error_message, rows_of

HERE = Path(__file__).resolve().parent
bp = Blueprint("dashboard", __name__, template_folder="templates")

LOGIN_COOKIE = "hub_login_csrf"
NOTICES = {
    "created": "Created.", "saved": "Saved.", "deleted": "Deleted.", "status": "Status changed.",
    "sent": "Sent.", "read": "Marked as read.", "training": "Training started.", "plan": "Plan changed.",
    "switched": "Plugin switched.", "revoked": "Revoked.", "role": "Role changed.",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'")


def settings():
    return plugin_settings("dashboard")


def mount() -> str:
    return current_hub().plugins["dashboard"].mount or "/"


# -- access ---------------------------------------------------------------------------------------------


def page(view: Callable) -> Callable:
    """A page of the dashboard: a signed-in member, the dashboard and the page's plugin on for the
    organization, the page's permission (service.MENU), and the CSRF token on every POST."""
    entry = ENTRIES.get(view.__name__.split("__")[0])

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = await browser_session(request.cookies.get(settings().cookie_name))
        if session is None:
            if request.method != "GET" or request.headers.get("HX-Request"):
                return await _error_page(401, "Your session has ended. Sign in again.")
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")), 303)
        hub = current_hub()
        org_id = session.principal.org_id
        if not await hub.plugin_enabled_for(org_id, "dashboard") or (
                entry and entry.plugin and not await hub.plugin_enabled_for(org_id, entry.plugin)):
            return await _error_page(404, "There is no such page.", session)
        if entry and not session.principal.can(entry.permission):
            return await _error_page(403, f"Your role ({session.principal.role}) may not open this page.", session)
        if request.method == "POST":
            form = await request.form
            if not session.check_csrf(form.get("csrf_token") or request.headers.get("X-CSRF-Token")):
                return await _error_page(403, "The form's security token is missing or stale. Reload the page.", session)
        g.dashboard_session = session
        g.api = HubApi(session)
        return await view(*args, **kwargs)

    return public(hide(wrapper))


async def render(template: str, status: int = 200, **context: Any) -> Response:
    session = getattr(g, "dashboard_session", None)
    context.setdefault("notice", NOTICES.get(request.args.get("notice", "")))
    body = await render_template(f"dashboard/{template}", **await _layout(session), **context)
    return Response(body, status=status, mimetype="text/html")


async def _layout(session) -> dict[str, Any]:
    menu = await service.menu(session) if session else []
    unread = None
    if any(entry.endpoint == "notifications" for entry in menu):
        status, body = await HubApi(session).call("GET", "/api/v1/notifications/unread-count")
        unread = body.get("unread") if status == 200 and isinstance(body, dict) else None
    return {"session": session, "menu": menu, "title": settings().title, "unread": unread,
            "sections": list(dict.fromkeys(entry.section for entry in menu)),
            "active": (request.endpoint or "").split(".")[-1].split("__")[0]}


async def _error_page(status: int, message: str, session=None) -> Response:
    g.dashboard_session = session
    return await render("error.html", status=status, status_code=status, message=message)


def done(endpoint: str, notice: str, **values: Any) -> Response:
    return redirect(url_for(f"dashboard.{endpoint}", notice=notice, **values), 303)


async def form_data() -> dict[str, str]:
    form = await request.form
    return {key: value.strip() for key, value in form.items() if key != "csrf_token"}


async def act(method: str, path: str, body: Any, success: Callable[[Any], Response], again: Callable) -> Response:
    """Call the API; on success `success(body)`, else the page again (`again(error=...)`) with the
    API's status and message."""
    status, answer = await g.api.call(method, path, json=body)
    if status < 400:
        return success(answer)
    return await again(error=error_message(status, answer), status=status)


@bp.after_request
async def security_headers(response: Response) -> Response:
    if request.endpoint and request.endpoint.startswith("dashboard.") and request.endpoint != "dashboard.asset":
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=mount(), httponly=True,
                        secure=served_over_https(), samesite="Lax")


# -- assets, sign-in, sign-out -----------------------------------------------------------------------


@bp.get("/static/<path:name>")
@public
@hide
async def asset(name: str):
    """The dashboard's own scripts and styles, and the vendored htmx and uPlot."""
    response = await send_from_directory(HERE / "static", name)
    response.cache_control.max_age = 3600
    return response


@bp.get("/login")
@public
@hide
async def login():
    return await _login_page()


async def _login_page(error: str | None = None, status: int = 200) -> Response:
    g.dashboard_session = None
    token = secrets.token_urlsafe(32)
    response = await render("login.html", status=status, error=error, login_csrf=token,
                            next=_safe_next(request.args.get("next")))
    _set_cookie(response, LOGIN_COOKIE, token, 3600)
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of the dashboard itself: never another site (an open redirect)."""
    default = url_for("dashboard.overview")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(mount().rstrip("/") + "/") or "\\" in target:
        return default
    return target


@bp.post("/login")
@public
@hide
async def login_post():
    form = await request.form
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, form.get("csrf_token", "")):
        return await _login_page("The form's security token is missing or stale. Try again.", 403)
    try:
        session, cookie = await sign_in(form.get("email", ""), form.get("password", ""))
    except HubError as error:
        return await _login_page(error.message, error.status)
    response = redirect(_safe_next(form.get("next")), 303)
    _set_cookie(response, settings().cookie_name, cookie, current_hub().settings.auth.refresh_token_days * 86400)
    response.delete_cookie(LOGIN_COOKIE, path=mount())
    return response


@bp.post("/logout")
@page
async def logout():
    await sign_out(g.dashboard_session)
    response = redirect(url_for("dashboard.login"), 303)
    response.delete_cookie(settings().cookie_name, path=mount(), httponly=True, samesite="Lax")
    return response


@bp.post("/socket-token")
@page
async def socket_token():
    """The session's short-lived access token, for the page's script to authenticate the Hub's
    WebSockets (first message `{"type": "auth", "token"}`); only with the CSRF header."""
    return {"token": g.dashboard_session.access_token}


# -- overview ---------------------------------------------------------------------------------------------


@bp.get("/")
@page
async def overview():
    options = settings()
    charts = await service.overview_charts(g.dashboard_session, list(options.overview_metrics),
                                           options.overview_charts, options.overview_days)
    analytics = "analytics" in await service.enabled_plugins(g.dashboard_session.principal.org_id)
    return await render("overview.html", charts=charts, analytics=analytics, days=options.overview_days,
                        charts_json=json.dumps([{k: c[k] for k in ("name", "label", "days", "values")}
                                                for c in charts if not c["error"]]).replace("<", "\\u003c"))


# -- CRM: leads, contacts, conversations -------------------------------------------------------------


LEAD_STATUSES = ["new", "contacted", "qualified", "converted", "lost"]
LEAD_FIELDS = ("name", "email", "phone", "company", "source", "value", "status", "notes")
CONTACT_FIELDS = ("name", "email", "phone", "company", "position", "notes")


def _body(data: dict[str, str], fields: tuple[str, ...], numbers: tuple[str, ...] = ()) -> dict[str, Any]:
    """The API body from a form: empty fields left out (the API's defaults), numbers as numbers."""
    body: dict[str, Any] = {}
    for name in fields:
        value = data.get(name, "")
        if value == "":
            continue
        if name in numbers:
            try:
                body[name] = float(value)
            except ValueError:
                body[name] = value  # the API names the field and the reason
        else:
            body[name] = value
    return body


@bp.get("/leads")
@page
async def leads(error: str | None = None, status: int = 200):
    args = request.args
    query = {"search": args.get("search", ""), "status": args.get("status", ""), "source": args.get("source", "")}
    answer = await g.api.get("/api/leads", limit=50, **query)
    return await render("leads.html", status=status, error=error, leads=rows_of(answer),
                        total=answer.get("total") if isinstance(answer, dict) else None,
                        query=query, statuses=LEAD_STATUSES,
                        can_write=g.dashboard_session.principal.can("crm.leads.write"))


@bp.post("/leads")
@page
async def leads__create():
    body = _body(await form_data(), LEAD_FIELDS, ("value",))
    return await act("POST", "/api/leads", body, lambda _: done("leads", "created"), leads)


@bp.get("/leads/<lead_id>")
@page
async def leads__edit(lead_id: str, error: str | None = None, status: int = 200):
    lead = await g.api.get(f"/api/leads/{lead_id}")
    return await render("lead.html", status=status, error=error, lead=lead, statuses=LEAD_STATUSES,
                        can_write=g.dashboard_session.principal.can("crm.leads.write"))


@bp.post("/leads/<lead_id>")
@page
async def leads__save(lead_id: str):
    body = _body(await form_data(), LEAD_FIELDS, ("value",))

    async def again(error: str, status: int):
        return await leads__edit(lead_id, error=error, status=status)

    return await act("PUT", f"/api/leads/{lead_id}", body, lambda _: done("leads", "saved"), again)


@bp.post("/leads/<lead_id>/status")
@page
async def leads__status(lead_id: str):
    data = await form_data()
    return await act("PUT", f"/api/leads/{lead_id}", {"status": data.get("status", "")},
                     lambda _: done("leads", "status"), leads)


@bp.get("/contacts")
@page
async def contacts(error: str | None = None, status: int = 200):
    query = {"search": request.args.get("search", "")}
    answer = await g.api.get("/api/contacts", limit=50, **query)
    return await render("contacts.html", status=status, error=error, contacts=rows_of(answer), query=query,
                        can_write=g.dashboard_session.principal.can("crm.contacts.write"))


@bp.post("/contacts")
@page
async def contacts__create():
    body = _body(await form_data(), CONTACT_FIELDS)
    return await act("POST", "/api/contacts", body, lambda _: done("contacts", "created"), contacts)


@bp.get("/contacts/<contact_id>")
@page
async def contacts__edit(contact_id: str, error: str | None = None, status: int = 200):
    contact = await g.api.get(f"/api/contacts/{contact_id}")
    return await render("contact.html", status=status, error=error, contact=contact,
                        can_write=g.dashboard_session.principal.can("crm.contacts.write"))


@bp.post("/contacts/<contact_id>")
@page
async def contacts__save(contact_id: str):
    body = _body(await form_data(), CONTACT_FIELDS + ("status",))

    async def again(error: str, status: int):
        return await contacts__edit(contact_id, error=error, status=status)

    return await act("PUT", f"/api/contacts/{contact_id}", body, lambda _: done("contacts", "saved"), again)


@bp.get("/conversations")
@page
async def conversations(error: str | None = None, status: int = 200):
    answer = await g.api.get("/api/conversations", limit=50)
    lead_id = request.args.get("lead", "")
    messages = rows_of(await g.api.get(f"/api/messages/{lead_id}")) if lead_id else []
    return await render("conversations.html", status=status, error=error, conversations=rows_of(answer),
                        lead_id=lead_id, messages=messages,
                        can_write=g.dashboard_session.principal.can("crm.messages.write"))


@bp.post("/conversations")
@page
async def conversations__send():
    data = await form_data()
    body = {"leadId": data.get("lead_id", ""), "content": data.get("content", ""), "sender": "user"}
    return await act("POST", "/api/messages", body,
                     lambda _: done("conversations", "sent", lead=data.get("lead_id", "")), conversations)


# -- workflows ----------------------------------------------------------------------------------------


@bp.get("/workflows")
@page
async def workflows(error: str | None = None, status: int = 200):
    answer = await g.api.get("/api/workflows", limit=100)
    return await render("workflows.html", status=status, error=error, workflows=rows_of(answer),
                        can_run=g.dashboard_session.principal.can("workflows.execute"))


@bp.post("/workflows/<workflow_id>/run")
@page
async def workflows__run(workflow_id: str):
    """Start the workflow: JSON `{execution_id}` for the page's script (which already listens on
    /ws), a redirect to the list for a plain form."""
    status, answer = await g.api.call("POST", f"/api/workflows/{workflow_id}/execute", json={"inputs": {}})
    if request.headers.get("X-CSRF-Token"):
        if status >= 400:
            return {"error": error_message(status, answer)}, status
        return {"execution_id": answer["execution_id"], "status": answer.get("status")}, 202
    if status >= 400:
        return await workflows(error=error_message(status, answer), status=status)
    return redirect(url_for("dashboard.workflows", execution=answer["execution_id"]), 303)


# -- tickets ----------------------------------------------------------------------------------------------


TICKET_STATUSES = ["open", "in_progress", "resolved", "closed"]
PRIORITIES = ["low", "medium", "high", "urgent"]


@bp.get("/tickets")
@page
async def tickets(error: str | None = None, status: int = 200):
    query = {"status": request.args.get("status", "")}
    answer = await g.api.get("/api/v1/tickets", limit=50, **query)
    principal = g.dashboard_session.principal
    return await render("tickets.html", status=status, error=error, tickets=rows_of(answer), query=query,
                        statuses=TICKET_STATUSES, priorities=PRIORITIES,
                        can_submit=principal.can("support.submit"), can_staff=principal.can("support.staff"))


@bp.post("/tickets")
@page
async def tickets__create():
    body = _body(await form_data(), ("title", "description", "priority", "category"))
    return await act("POST", "/api/v1/tickets", body, lambda _: done("tickets", "created"), tickets)


@bp.post("/tickets/<ticket_id>/status")
@page
async def tickets__status(ticket_id: str):
    body = _body(await form_data(), ("status", "priority"))
    return await act("PUT", f"/api/v1/tickets/{ticket_id}", body, lambda _: done("tickets", "status"), tickets)


# -- notifications ---------------------------------------------------------------------------------------


@bp.get("/notifications")
@page
async def notifications(error: str | None = None, status: int = 200):
    answer = await g.api.get("/api/v1/notifications", limit=50)
    return await render("notifications.html", status=status, error=error, notifications=rows_of(answer))


@bp.post("/notifications/read-all")
@page
async def notifications__read_all():
    return await act("POST", "/api/v1/notifications/read-all", None, lambda _: done("notifications", "read"),
                     notifications)


# -- recommender -----------------------------------------------------------------------------------------


@bp.get("/recommender")
@page
async def recommender(error: str | None = None, status: int = 200, result: Any = None, user_id: str = ""):
    models = await g.api.get("/api/v1/recommender/models")
    principal = g.dashboard_session.principal
    return await render("recommender.html", status=status, error=error, models=rows_of(models),
                        result=result, user_id=user_id, can_train=principal.can("recommender.train"),
                        can_recommend=principal.can("recommender.recommend"))


@bp.post("/recommender/train")
@page
async def recommender__train():
    return await act("POST", "/api/v1/recommender/training", {}, lambda _: done("recommender", "training"),
                     recommender)


@bp.post("/recommender/try")
@page
async def recommender__try():
    data = await form_data()
    user_id = data.get("user_id", "")
    try:
        count = int(data.get("count") or 10)
    except ValueError:
        count = 10
    status, answer = await g.api.call("POST", "/api/v1/recommendations", json={"user_id": user_id, "count": count})
    if status >= 400:
        return await recommender(error=error_message(status, answer), status=status, user_id=user_id)
    return await recommender(result=answer, user_id=user_id)


# -- LLM playground -------------------------------------------------------------------------------------


TOOL_CHOICES = ["auto", "required", "none"]


@bp.get("/playground")
@page
async def playground(error: str | None = None, status: int = 200, exchange: list | None = None, prompt: str = "",
                     chosen: list[str] | None = None, tool_choice: str = "auto"):
    answer_status, tools = await g.api.call("GET", "/v1/functions")
    names = [tool.get("function", {}).get("name") for tool in rows_of(tools)] if answer_status == 200 else []
    # "Calling functions": auto / required / none, or one function by name (the model must call it)
    return await render("playground.html", status=status, error=error, exchange=exchange or [], prompt=prompt,
                        tool_names=names, chosen=chosen or [], tool_choice=tool_choice,
                        tool_choices=TOOL_CHOICES + names)


@bp.post("/playground")
@page
async def playground__chat():
    """One turn: the model may call the Hub's functions (the member's own rights); the calls, their
    results and the model's answer are shown. 503 when no model is configured, said as such."""
    form = await request.form
    prompt = form.get("prompt", "").strip()
    chosen = [name for name in form.getlist("tools") if name]  # none chosen: every function the member may use
    status, tools = await g.api.call("GET", "/v1/functions")
    tools = rows_of(tools) if status == 200 else []
    names = [tool.get("function", {}).get("name") for tool in tools]
    tool_choice = form.get("tool_choice", "auto")
    tool_choice = tool_choice if tool_choice in TOOL_CHOICES or tool_choice in names else "auto"
    if chosen:
        tools = [tool for tool in tools if tool.get("function", {}).get("name") in chosen]
    # a function named: the OpenAI form {"type": "function", ...} (a function not among the chosen
    # ones is the API's 422, shown on the page)
    first_choice: Any = tool_choice if tool_choice in TOOL_CHOICES else {
        "type": "function", "function": {"name": tool_choice}}
    forced = tool_choice not in ("auto", "none")
    status, models = await g.api.call("GET", "/v1/models")
    model = next((card.get("id") for card in rows_of(models)), None) if status == 200 else None
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    exchange: list[dict[str, Any]] = [{"kind": "user", "text": prompt}]
    for _ in range(3):  # a tool round or two, then the answer
        body: dict[str, Any] = {"model": model or "default", "messages": messages, "max_tokens": 256}
        if tools:
            body["tools"] = tools
            # the member's choice for the first turn; then the model answers from the results (after
            # a forced call it must answer: "none", as agents do, or a small model calls again and again)
            body["tool_choice"] = first_choice if len(messages) == 1 else ("none" if forced else "auto")
        status, answer = await g.api.call("POST", "/v1/chat/completions", json=body)
        if status >= 400:
            return await playground(error=error_message(status, answer), status=status, exchange=exchange,
                                    prompt=prompt, chosen=chosen, tool_choice=tool_choice)
        message = (answer.get("choices") or [{}])[0].get("message") or {}
        calls = message.get("tool_calls") or []
        if not calls:
            exchange.append({"kind": "assistant", "text": message.get("content") or ""})
            break
        messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
        for call in calls:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
                result = await call_function(current_hub(), g.dashboard_session.principal, function.get("name", ""),
                                             arguments)
            except (HubError, ValueError) as failure:
                result = {"error": getattr(failure, "message", str(failure))}
            text = json.dumps(result, default=str)[:4000]
            exchange.append({"kind": "tool", "name": function.get("name"), "arguments": function.get("arguments"),
                             "result": text})
            messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": text})
    else:
        exchange.append({"kind": "assistant", "text": "(stopped after three rounds of function calls)"})
    return await playground(exchange=exchange, prompt="", chosen=chosen, tool_choice=tool_choice)


# -- admin ----------------------------------------------------------------------------------------------------


ROLES = ["admin", "developer", "member", "viewer"]


@bp.get("/admin/members")
@page
async def members(error: str | None = None, status: int = 200, invitation: Any = None):
    answer = await g.api.get("/api/v1/tenant/members")
    return await render("members.html", status=status, error=error, members=rows_of(answer), roles=ROLES,
                        invitation=invitation, can_manage=g.dashboard_session.principal.can("members.manage"))


@bp.post("/admin/members")
@page
async def members__add():
    body = _body(await form_data(), ("email", "first_name", "last_name", "role"))
    status, answer = await g.api.call("POST", "/api/v1/tenant/members", json=body)
    if status >= 400:
        return await members(error=error_message(status, answer), status=status)
    return await members(invitation=answer)  # the invitation token is shown once, here


@bp.post("/admin/members/<user_id>/role")
@page
async def members__role(user_id: str):
    data = await form_data()
    return await act("PUT", f"/api/v1/tenant/members/{user_id}", {"role": data.get("role", "")},
                     lambda _: done("members", "role"), members)


@bp.post("/admin/members/<user_id>/remove")
@page
async def members__remove(user_id: str):
    return await act("DELETE", f"/api/v1/tenant/members/{user_id}", None, lambda _: done("members", "deleted"), members)


@bp.get("/admin/keys")
@page
async def keys(error: str | None = None, status: int = 200, created: Any = None):
    answer = await g.api.get("/api/v1/keys")
    return await render("keys.html", status=status, error=error, keys=rows_of(answer), created=created)


@bp.post("/admin/keys")
@page
async def keys__create():
    data = await form_data()
    body: dict[str, Any] = {"name": data.get("name", ""),
                            "scopes": [s.strip() for s in data.get("scopes", "read").split(",") if s.strip()]}
    if data.get("expires_days"):
        body["expires_days"] = data["expires_days"]
    status, answer = await g.api.call("POST", "/api/v1/keys", json=body)
    if status >= 400:
        return await keys(error=error_message(status, answer), status=status)
    return await keys(created=answer)  # the full key: in this response only


@bp.post("/admin/keys/<key_id>/revoke")
@page
async def keys__revoke(key_id: str):
    return await act("DELETE", f"/api/v1/keys/{key_id}", None, lambda _: done("keys", "revoked"), keys)


@bp.get("/admin/plugins")
@page
async def plugins(error: str | None = None, status: int = 200):
    answer = await g.api.get("/api/v1/plugins")
    return await render("plugins.html", status=status, error=error, plugins=rows_of(answer))


@bp.post("/admin/plugins/<name>")
@page
async def plugins__switch(name: str):
    data = await form_data()
    return await act("PUT", f"/api/v1/plugins/{name}", {"enabled": data.get("enabled") == "true"},
                     lambda _: done("plugins", "switched"), plugins)


@bp.get("/admin/webhooks")
@page
async def webhooks(error: str | None = None, status: int = 200, created: Any = None):
    answer = await g.api.get("/api/v1/webhooks")
    return await render("webhooks.html", status=status, error=error, webhooks=rows_of(answer), created=created)


@bp.post("/admin/webhooks")
@page
async def webhooks__create():
    data = await form_data()
    body = {"url": data.get("url", ""), "description": data.get("description", ""),
            "events": [e.strip() for e in data.get("events", "*").split(",") if e.strip()]}
    status, answer = await g.api.call("POST", "/api/v1/webhooks", json=body)
    if status >= 400:
        return await webhooks(error=error_message(status, answer), status=status)
    return await webhooks(created=answer)  # the signing secret: in this response only


@bp.post("/admin/webhooks/<webhook_id>/delete")
@page
async def webhooks__delete(webhook_id: str):
    return await act("DELETE", f"/api/v1/webhooks/{webhook_id}", None, lambda _: done("webhooks", "deleted"), webhooks)


@bp.get("/admin/billing")
@page
async def billing(error: str | None = None, status: int = 200):
    answer = await g.api.get("/api/v1/plans")
    return await render("billing.html", status=status, error=error, plans=rows_of(answer),
                        current=answer.get("current_plan") if isinstance(answer, dict) else None,
                        can_manage=g.dashboard_session.principal.can("billing.manage"))


@bp.post("/admin/billing")
@page
async def billing__assign():
    data = await form_data()
    return await act("PUT", "/api/v1/billing/plan", {"plan": data.get("plan", "")}, lambda _: done("billing", "plan"),
                     billing)


@bp.errorhandler(HubError)
async def hub_error(error: HubError):
    """An API read that failed (another organization's id → 404, ...) as a page, not JSON."""
    session = getattr(g, "dashboard_session", None)
    return await _error_page(error.status, error.message, session)
