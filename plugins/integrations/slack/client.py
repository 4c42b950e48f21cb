"""Talking to Slack with its official SDK (`slack-sdk`, unchanged): the Web API with a bot token
(`auth.test`, `chat.postMessage`, at `api_base_url`) and an organization's incoming-webhook URL.

The webhook URL is the organization's, so it passes the Hub's SSRF guard: the SDK's aiohttp
session gets a resolver that resolves and checks every host (`core.resolve_host`: loopback,
private, link-local and metadata addresses refused unless allowlisted) and hands aiohttp only
the addresses it checked, and a trace hook that checks a literal IP address (which aiohttp
connects to without resolving) before the request starts and refuses redirects. The Web API's
address is the Hub's own setting and is not checked.

Failures become `SlackError`: `transient` (unreachable, a timeout, 429, 5xx: try again later) or
not, and `refused` when Slack turned the credentials or the webhook down (a revoked token, a
deleted webhook): the integration is then marked `error`.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Iterable

import aiohttp
from aiohttp.abc import AbstractResolver
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from core import is_unsafe_error, resolve_host

# Web API errors that say the token itself does not work (https://docs.slack.dev/reference/methods)
REFUSED_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "missing_scope", "org_login_required", "ekm_access_denied", "team_access_not_granted", "not_allowed_token_type",
})
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})
# An incoming webhook answers with an HTTP status and a short text: these say the webhook is gone
# or barred (invalid_token, action_prohibited, no_service, no_team, team_disabled,
# channel_not_found, channel_is_archived)
WEBHOOK_REFUSED_STATUSES = frozenset({403, 404, 410})


class SlackError(Exception):
    def __init__(self, message: str, *, transient: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.refused = refused


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for user-given hosts: every address checked by the SSRF guard."""

    def __init__(self, allowlist: Iterable[str]) -> None:
        self.allowlist = list(allowlist)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        addresses, _ = await resolve_host(host, port, self.allowlist)
        return [{"hostname": host, "host": str(address), "port": port,
                 "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in addresses]

    async def close(self) -> None:
        return None


def _guard_trace(allowlist: list[str]) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def on_request_start(session, context, params) -> None:
        url = params.url
        if url.scheme not in ("http", "https") or url.user or url.password:
            raise SlackError("the webhook URL must be http(s) without credentials in it")
        # a literal address never reaches the resolver: check it here (a name is checked there)
        await resolve_host(url.raw_host or "", url.port or 443, allowlist)

    async def on_request_redirect(session, context, params) -> None:
        raise SlackError(f"the webhook answered with a redirect ({params.response.status}); redirects are not followed")

    trace.on_request_start.append(on_request_start)
    trace.on_request_redirect.append(on_request_redirect)
    return trace


def guarded_session(allowlist: Iterable[str], timeout: float) -> aiohttp.ClientSession:
    allowed = list(allowlist)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(allowed), use_dns_cache=False),
        timeout=aiohttp.ClientTimeout(total=timeout), trust_env=False, trace_configs=[_guard_trace(allowed)])


def _failure(error: BaseException, where: str) -> SlackError:
    if isinstance(error, SlackError):
        return error
    unsafe = is_unsafe_error(error)
    if unsafe is not None:
        return SlackError(f"{where} is not allowed: {getattr(unsafe, 'reason', unsafe)}", refused=True)
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        status = error.response.status_code
        code = code or f"HTTP {status}"
        return SlackError(f"Slack refused the request: {code}", refused=code in REFUSED_ERRORS,
                          transient=code in TRANSIENT_ERRORS or status == 429 or status >= 500)
    if isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return SlackError(f"{where} could not be reached: {type(error).__name__}: {error}".rstrip(": "),
                          transient=True)
    raise error


# -- the Web API (bot token) ----------------------------------------------------------------------------


def web_client(token: str, base_url: str, timeout: float) -> AsyncWebClient:
    # no retries inside the SDK: the post job retries passing failures with its own back-off
    return AsyncWebClient(token=token, base_url=base_url, timeout=int(max(1, timeout)), retry_handlers=[])


async def check_token(token: str, base_url: str, timeout: float) -> dict:
    """`auth.test`: the workspace and bot the token belongs to, or SlackError."""
    try:
        answer = await web_client(token, base_url, timeout).auth_test()
    except Exception as error:  # noqa: BLE001 (sorted by _failure, re-raised if unknown)
        raise _failure(error, "Slack's API") from None
    return {"team": answer.get("team"), "team_id": answer.get("team_id"), "bot_user": answer.get("user"),
            "url": answer.get("url")}


async def post_with_token(token: str, base_url: str, timeout: float, channel: str, text: str) -> dict:
    """`chat.postMessage`; Slack's `channel` and `ts` of the message, or SlackError."""
    try:
        answer = await web_client(token, base_url, timeout).chat_postMessage(channel=channel, text=text)
    except Exception as error:  # noqa: BLE001
        raise _failure(error, "Slack's API") from None
    return {"channel": answer.get("channel"), "ts": answer.get("ts")}


# -- incoming webhooks -------------------------------------------------------------------------------------


async def _webhook_send(url: str, body: dict, allowlist: Iterable[str], timeout: float) -> Any:
    session = guarded_session(allowlist, timeout)
    try:
        return await AsyncWebhookClient(url, timeout=int(max(1, timeout)), session=session).send_dict(body)
    except Exception as error:  # noqa: BLE001
        raise _failure(error, "the webhook URL") from None
    finally:
        await session.close()


async def check_webhook(url: str, allowlist: Iterable[str], timeout: float) -> None:
    """Whether the webhook exists, without posting anything: a message without text is refused by
    an existing webhook with 400 (`no_text`), and by a deleted or wrong one with 403/404/410."""
    answer = await _webhook_send(url, {"text": ""}, allowlist, timeout)
    if answer.status_code in (200, 400):
        return
    raise _webhook_error(answer)


async def post_with_webhook(url: str, allowlist: Iterable[str], timeout: float, text: str) -> dict:
    answer = await _webhook_send(url, {"text": text}, allowlist, timeout)
    if answer.status_code != 200:
        raise _webhook_error(answer)
    return {"channel": None, "ts": None}


def _webhook_error(answer: Any) -> SlackError:
    status = answer.status_code
    reason = str(answer.body or "").strip()[:200] or f"HTTP {status}"
    return SlackError(f"the webhook answered {status} {reason}", refused=status in WEBHOOK_REFUSED_STATUSES,
                      transient=status == 429 or status >= 500)
