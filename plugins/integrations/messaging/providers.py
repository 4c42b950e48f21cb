"""The providers a message goes out through, and how their failures are told apart: a
`ProviderError` is `transient` (a connection error, a timeout, SMTP 4xx, HTTP 5xx or 429: the
send job tries again after a back-off) or permanent (SMTP 5xx, HTTP 4xx: no retry).

    smtp      aiosmtplib: STARTTLS, implicit TLS or none; AUTH when a username is connected
    sendgrid  SendGrid's v3 HTTP API (`POST /v3/mail/send`) with httpx, at `sendgrid_base_url`
    mailgun   Mailgun's HTTP API (`POST /v3/{domain}/messages`, multipart) with httpx, at `mailgun_base_url`
    twilio    the official `twilio` SDK (its async HTTP client), at the `twilio_base_url` setting
    messagebird  MessageBird's REST API (`POST /messages`, `/mms`) with httpx, at `messagebird_base_url`
    aws_ses, aws_sns  boto3 (aws.py)

Each provider's `check` is its integration's connection test (`/api/integrations/{id}/test`).
"""

from __future__ import annotations

import asyncio
import base64
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from core import is_unsafe_error, resolve_host



class ProviderError(Exception):
    def __init__(self, message: str, *, transient: bool, credentials_refused: bool = False,
                 response: dict | None = None, provider_fault: bool | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.credentials_refused = credentials_refused  # the provider says the connection is wrong
        self.response = response or {}
        # the provider's failure rather than the message's (a fallback provider may do better)
        self.provider_fault = transient or credentials_refused if provider_fault is None else provider_fault


# -- SMTP -------------------------------------------------------------------------------------------


def email_message(payload: dict[str, Any], sender: str) -> EmailMessage:
    """The MIME message of an email payload: text and HTML as alternatives, attachments after.
    Bcc recipients are in the envelope only, never in a header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    if payload.get("cc"):
        message["Cc"] = ", ".join(payload["cc"])
    if payload.get("reply_to"):
        message["Reply-To"] = payload["reply_to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    message.set_content(payload.get("text") or "")
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    for attachment in payload.get("attachments", []):
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(base64.b64decode(attachment["content"]), maintype=maintype, subtype=subtype,
                               filename=attachment["filename"])
    return message


async def _check_smtp_host(config: Any, allowlist: list[str]) -> None:
    """The SSRF guard for an organization's SMTP host: no loopback, private, link-local or
    metadata address unless allowlisted. (The connection then goes to the name, so a DNS answer
    changed in between is not caught here, unlike the Hub's HTTP client.)"""
    try:
        await resolve_host(config.host, config.port, allowlist)
    except ValueError as error:
        unsafe = is_unsafe_error(error)
        reason = unsafe.reason if unsafe is not None else str(error)
        raise ProviderError(f"the SMTP host {config.host!r} is not allowed: {reason}", transient=False,
                            credentials_refused=True) from None


def _smtp_options(config: Any, credentials: Any, timeout: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hostname": config.host, "port": config.port, "timeout": timeout,
        "use_tls": config.security == "tls", "start_tls": config.security == "starttls",
    }
    if credentials is not None and credentials.username:
        options["username"] = credentials.username
        options["password"] = credentials.password.get_secret_value() if credentials.password else ""
    return options


def _smtp_error(error: Exception) -> ProviderError:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        text = "; ".join(f"{refused.recipient}: {refused.code} {refused.message}" for refused in error.recipients)
        return ProviderError(f"the SMTP server refused the recipients ({text})",
                             transient=all(400 <= code < 500 for code in codes), response={"codes": codes})
    if isinstance(error, aiosmtplib.SMTPResponseException):
        transient = 400 <= error.code < 500
        return ProviderError(f"the SMTP server answered {error.code} {error.message}", transient=transient,
                             credentials_refused=isinstance(error, aiosmtplib.SMTPAuthenticationError),
                             response={"code": error.code})
    if isinstance(error, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return ProviderError(f"the SMTP server did not answer in time ({error})", transient=True)
    if isinstance(error, (ConnectionError, OSError)):
        return ProviderError(f"could not reach the SMTP server: {error}", transient=True)
    # SMTPNotSupported (e.g. STARTTLS or AUTH the server does not offer): a configuration to fix
    return ProviderError(f"SMTP failed: {error}", transient=False, credentials_refused=True)


async def smtp_check(config: Any, credentials: Any, timeout: float, allowlist: list[str]) -> None:
    """Connect, say EHLO, upgrade to TLS as configured and log in: what sending will do."""
    await _check_smtp_host(config, allowlist)
    options = _smtp_options(config, credentials, timeout)
    client = aiosmtplib.SMTP(hostname=options["hostname"], port=options["port"], timeout=timeout,
                             use_tls=options["use_tls"], start_tls=options["start_tls"])
    try:
        await client.connect()
        if "username" in options:
            await client.login(options["username"], options["password"])
    except aiosmtplib.SMTPException as error:
        raise ProviderError(str(_smtp_error(error)), transient=False) from None
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


async def smtp_send(config: Any, credentials: Any, payload: dict[str, Any], timeout: float,
                    allowlist: list[str]) -> dict[str, Any]:
    """Send an email payload; the provider's answer ({message_id, refused})."""
    await _check_smtp_host(config, allowlist)
    message = email_message(payload, payload.get("from") or config.from_address)
    recipients = [*payload["to"], *payload.get("cc", []), *payload.get("bcc", [])]
    try:
        refused, answer = await aiosmtplib.send(message, recipients=recipients,
                                                **_smtp_options(config, credentials, timeout))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise _smtp_error(error) from None
    return {"message_id": message["Message-ID"], "answer": answer,
            "refused": {address: f"{code} {text}" for address, (code, text) in refused.items()}}


# -- SendGrid ---------------------------------------------------------------------------------------


def _sendgrid_error(error: Exception) -> ProviderError:
    import httpx

    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        try:
            errors = [problem.get("message", "") for problem in error.response.json().get("errors", [])]
        except ValueError:
            errors = [error.response.text[:200]]
        return ProviderError(f"SendGrid answered {status}: {'; '.join(errors)}"[:500],
                             transient=status >= 500 or status == 429, credentials_refused=status in (401, 403),
                             response={"status": status})
    if isinstance(error, httpx.TimeoutException):
        return ProviderError("SendGrid did not answer in time", transient=True)
    return ProviderError(f"could not reach SendGrid: {type(error).__name__}: {error}", transient=True)


async def _sendgrid(method: str, path: str, credentials: Any, base_url: str, timeout: float, **kwargs):
    import httpx

    headers = {"Authorization": f"Bearer {credentials.api_key.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False) as client:
            response = await client.request(method, path, headers=headers, **kwargs)
            response.raise_for_status()
            return response
    except httpx.HTTPError as error:
        raise _sendgrid_error(error) from None


async def sendgrid_check(credentials: Any, base_url: str, timeout: float) -> None:
    """The key's scopes: SendGrid answers them only for a valid key; sending needs mail.send."""
    try:
        scopes = (await _sendgrid("GET", "/v3/scopes", credentials, base_url, timeout)).json().get("scopes", [])
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None
    if "mail.send" not in scopes:
        raise ProviderError("the SendGrid key lacks the mail.send scope", transient=False)


async def sendgrid_send(credentials: Any, config: Any, payload: dict[str, Any], base_url: str,
                        timeout: float, reference: str | None = None) -> dict[str, Any]:
    personalization: dict[str, Any] = {"to": [{"email": address} for address in payload["to"]]}
    for field in ("cc", "bcc"):
        if payload.get(field):
            personalization[field] = [{"email": address} for address in payload[field]]
    content = [{"type": "text/plain", "value": payload.get("text") or " "}]
    if payload.get("html"):
        content.append({"type": "text/html", "value": payload["html"]})
    body: dict[str, Any] = {"personalizations": [personalization],
                            "from": {"email": payload.get("from") or config.from_address},
                            "subject": payload["subject"], "content": content}
    if payload.get("reply_to"):
        body["reply_to"] = {"email": payload["reply_to"]}
    if reference:  # comes back in every event of the Event Webhook
        body["custom_args"] = {"hub_message_id": reference}
    if payload.get("attachments"):
        body["attachments"] = [{"content": a["content"], "filename": a["filename"], "type": a["content_type"],
                                "disposition": "attachment"} for a in payload["attachments"]]
    response = await _sendgrid("POST", "/v3/mail/send", credentials, base_url, timeout, json=body)
    return {"message_id": response.headers.get("X-Message-Id"), "status": response.status_code}


# -- Twilio -----------------------------------------------------------------------------------------


def _twilio_client(credentials: Any, base_url: str):
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    client = Client(credentials.account_sid, credentials.auth_token.get_secret_value(),
                    http_client=AsyncTwilioHttpClient())
    client.api.base_url = base_url.rstrip("/")  # the SDK's way to another host: its domain's base
    return client


def _twilio_error(error: Exception) -> ProviderError:
    from twilio.base.exceptions import TwilioRestException

    if isinstance(error, TwilioRestException):
        transient = error.status >= 500 or error.status == 429
        return ProviderError(f"Twilio answered {error.status}: {error.msg}", transient=transient,
                             credentials_refused=error.status in (401, 403),
                             response={"status": error.status, "code": error.code})
    if isinstance(error, TimeoutError):
        return ProviderError("Twilio did not answer in time", transient=True)
    return ProviderError(f"could not reach Twilio: {type(error).__name__}: {error}", transient=True)


async def _with_twilio(credentials: Any, base_url: str, timeout: float, call):
    import aiohttp

    client = _twilio_client(credentials, base_url)
    try:
        async with asyncio.timeout(timeout):
            return await call(client)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise _twilio_error(error) from None
    except Exception as error:
        from twilio.base.exceptions import TwilioException

        if isinstance(error, TwilioException):
            raise _twilio_error(error) from None
        raise
    finally:
        await client.http_client.close()


async def twilio_check(credentials: Any, base_url: str, timeout: float) -> None:
    """Fetch the account: Twilio answers it only for a valid SID and token."""
    async def fetch(client):
        return await client.api.v2010.accounts(credentials.account_sid).fetch_async()

    try:
        await _with_twilio(credentials, base_url, timeout, fetch)
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None


async def twilio_send(credentials: Any, config: Any, payload: dict[str, Any], base_url: str, timeout: float,
                      status_callback: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"to": payload["to"], "from_": payload.get("from") or config.from_number,
                               "body": payload["message"]}
    if payload.get("media_urls"):
        options["media_url"] = payload["media_urls"]
    if status_callback:
        options["status_callback"] = status_callback

    async def create(client):
        return await client.messages.create_async(**options)

    sent = await _with_twilio(credentials, base_url, timeout, create)
    return {"message_id": sent.sid, "status": sent.status, "price": sent.price, "price_unit": sent.price_unit,
            "segments": sent.num_segments}


# -- plain HTTP APIs (Mailgun, MessageBird) ---------------------------------------------------------


def _http_error(name: str, error: Exception, messages) -> ProviderError:
    import httpx

    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        try:
            text = messages(error.response.json())
        except (ValueError, AttributeError, TypeError):
            text = error.response.text[:200]
        return ProviderError(f"{name} answered {status}: {text}"[:500], transient=status >= 500 or status == 429,
                             credentials_refused=status in (401, 403), response={"status": status})
    if isinstance(error, httpx.TimeoutException):
        return ProviderError(f"{name} did not answer in time", transient=True)
    return ProviderError(f"could not reach {name}: {type(error).__name__}: {error}", transient=True)


async def _http(name: str, messages, method: str, url: str, timeout: float, **kwargs):
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.request(method, url, **kwargs)
            response.raise_for_status()
            return response
    except httpx.HTTPError as error:
        raise _http_error(name, error, messages) from None


# -- Mailgun ----------------------------------------------------------------------------------------


def _mailgun_messages(body: Any) -> str:
    return str(body.get("message", body))


def _mailgun_auth(credentials: Any) -> tuple[str, str]:
    return ("api", credentials.api_key.get_secret_value())


async def mailgun_check(credentials: Any, config: Any, base_url: str, timeout: float) -> None:
    """The sending domain: Mailgun shows it only to a valid key of its account."""
    from urllib.parse import quote

    url = f"{base_url.rstrip('/')}/v3/domains/{quote(config.domain, safe='')}"
    try:
        await _http("Mailgun", _mailgun_messages, "GET", url, timeout, auth=_mailgun_auth(credentials))
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None


async def mailgun_send(credentials: Any, config: Any, payload: dict[str, Any], base_url: str, timeout: float,
                       reference: str | None = None) -> dict[str, Any]:
    """Mailgun's `POST /v3/{domain}/messages` (a form field per recipient; multipart/form-data
    with the attachments as files); its answer `{id: "<...>", message: "Queued. Thank you."}`."""
    from urllib.parse import quote

    data: dict[str, Any] = {"from": payload.get("from") or config.from_address, "to": list(payload["to"]),
                            "subject": payload["subject"], "text": payload.get("text") or ""}
    for field in ("cc", "bcc"):
        if payload.get(field):
            data[field] = list(payload[field])
    if payload.get("html"):
        data["html"] = payload["html"]
    if payload.get("reply_to"):
        data["h:Reply-To"] = payload["reply_to"]
    if reference:  # a user variable: it comes back in every webhook event of the message
        data["v:hub_message_id"] = reference
    # form-encoded, or multipart/form-data with the attachments as files (Mailgun takes both)
    files = [("attachment", (a["filename"], base64.b64decode(a["content"]), a["content_type"]))
             for a in payload.get("attachments", [])]
    url = f"{base_url.rstrip('/')}/v3/{quote(config.domain, safe='')}/messages"
    response = await _http("Mailgun", _mailgun_messages, "POST", url, timeout, auth=_mailgun_auth(credentials),
                           data=data, files=files or None)
    answer = response.json()
    return {"message_id": str(answer.get("id", "")).strip("<>") or None, "message": answer.get("message")}


# -- MessageBird ------------------------------------------------------------------------------------


def _messagebird_messages(body: Any) -> str:
    return "; ".join(f"{error.get('code')} {error.get('description')}" for error in body.get("errors", [])) \
        or str(body)


def _messagebird_headers(credentials: Any) -> dict[str, str]:
    return {"Authorization": f"AccessKey {credentials.access_key.get_secret_value()}", "Accept": "application/json"}


async def messagebird_check(credentials: Any, base_url: str, timeout: float) -> None:
    """The balance: MessageBird answers it only for a valid access key."""
    try:
        await _http("MessageBird", _messagebird_messages, "GET", f"{base_url.rstrip('/')}/balance", timeout,
                    headers=_messagebird_headers(credentials))
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None


async def messagebird_send(credentials: Any, config: Any, payload: dict[str, Any], base_url: str, timeout: float,
                           reference: str | None = None) -> dict[str, Any]:
    """`POST /messages` (JSON: originator, recipients as MSISDNs, body, reference), or `POST /mms`
    with `mediaUrls`; the answer is the message with its recipients' statuses."""
    body: dict[str, Any] = {"originator": (payload.get("from") or config.originator).lstrip("+"),
                            "recipients": [payload["to"].lstrip("+")], "body": payload["message"]}
    if reference:
        body["reference"] = reference
    path = "/messages"
    if payload.get("media_urls"):
        path, body["mediaUrls"] = "/mms", payload["media_urls"]
    response = await _http("MessageBird", _messagebird_messages, "POST", base_url.rstrip("/") + path, timeout,
                           headers=_messagebird_headers(credentials), json=body)
    answer = response.json()
    items = answer.get("recipients", {}).get("items", [])
    return {"message_id": answer.get("id"), "status": items[0].get("status") if items else None}
