"""Amazon's providers through the official SDK (boto3, unchanged), its endpoint settable so tests
run against `moto` in server mode:

    aws_ses   email: `SendRawEmail` (the same MIME message as SMTP sends: cc, bcc, attachments)
    aws_sns   SMS: `Publish` to a phone number (SMSType and SenderID as message attributes)

and the verification of the SNS notifications SES reports bounces, complaints and deliveries
through (`verify_sns`): the message's signature (SignatureVersion 1: SHA1withRSA, 2:
SHA256withRSA) over AWS's canonical string, checked with the certificate at `SigningCertURL`,
whose host must be allowlisted (default `sns.<region>.amazonaws.com`, https).

boto3 is synchronous: each call runs in a thread. The SDK's own retries are off (one try): the
send job retries with its back-off, as for every provider.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
from typing import Any
from urllib.parse import urlsplit

from plugins.integrations.messaging.providers import ProviderError, email_message

# botocore error codes that say the credentials (or their rights) are wrong
_AUTH_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException",
               "UnrecognizedClientException", "AuthorizationError", "InvalidAccessKeyId", "AuthFailure",
               "ExpiredToken", "MissingAuthenticationToken"}
_TRANSIENT_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable",
                    "InternalFailure", "InternalError", "RequestTimeout", "Throttled"}


@functools.lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint_url: str | None, access_key_id: str, secret: str,
            timeout: float):
    """A boto3 client (thread-safe, so kept per credentials: making one takes tens of ms)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1},
                    user_agent_extra="the-hub-messaging")
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url,
                                          aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                                          config=config)


def client(service: str, credentials: Any, config: Any, endpoint_url: str | None, timeout: float):
    return _client(service, config.region, endpoint_url or None, credentials.access_key_id,
                   credentials.secret_access_key.get_secret_value(), timeout)


def _aws_error(name: str, error: Exception) -> ProviderError:
    from botocore.exceptions import (
        ClientError,
        ConnectionError as BotoConnectionError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
        transient = status >= 500 or status == 429 or code in _TRANSIENT_CODES
        return ProviderError(f"{name} answered {status} {code}: {details.get('Message', '')}"[:500],
                             transient=transient, credentials_refused=code in _AUTH_CODES or status in (401, 403),
                             response={"status": status, "code": code})
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        return ProviderError(f"{name} did not answer in time", transient=True)
    if isinstance(error, (BotoConnectionError, OSError)):
        return ProviderError(f"could not reach {name}: {error}", transient=True)
    if isinstance(error, NoCredentialsError):
        return ProviderError(f"{name}: no credentials", transient=False, credentials_refused=True)
    return ProviderError(f"{name} failed: {type(error).__name__}: {error}"[:500], transient=False)


async def _call(name: str, function, **kwargs) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return await asyncio.to_thread(function, **kwargs)
    except (ClientError, BotoCoreError, OSError) as error:
        raise _aws_error(name, error) from None


# -- SES --------------------------------------------------------------------------------------------


async def ses_check(credentials: Any, config: Any, endpoint_url: str | None, timeout: float) -> None:
    """The account's sending quota: SES answers it only for valid credentials."""
    ses = client("ses", credentials, config, endpoint_url, timeout)
    try:
        await _call("Amazon SES", ses.get_send_quota)
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None


async def ses_send(credentials: Any, config: Any, payload: dict[str, Any], endpoint_url: str | None,
                   timeout: float) -> dict[str, Any]:
    sender = payload.get("from") or config.from_address
    message = email_message(payload, sender)
    recipients = [*payload["to"], *payload.get("cc", []), *payload.get("bcc", [])]
    options: dict[str, Any] = {"Source": sender, "Destinations": recipients,
                               "RawMessage": {"Data": message.as_bytes()}}
    if config.configuration_set:
        options["ConfigurationSetName"] = config.configuration_set
    ses = client("ses", credentials, config, endpoint_url, timeout)
    answer = await _call("Amazon SES", ses.send_raw_email, **options)
    return {"message_id": answer["MessageId"], "request_id": answer.get("ResponseMetadata", {}).get("RequestId")}


# -- SNS (SMS) --------------------------------------------------------------------------------------


async def sns_check(credentials: Any, config: Any, endpoint_url: str | None, timeout: float) -> None:
    """The account's SMS attributes: SNS answers them only for valid credentials."""
    sns = client("sns", credentials, config, endpoint_url, timeout)
    try:
        await _call("Amazon SNS", sns.get_sms_attributes)
    except ProviderError as error:
        raise ProviderError(str(error), transient=False) from None


async def sns_send(credentials: Any, config: Any, payload: dict[str, Any], endpoint_url: str | None,
                   timeout: float) -> dict[str, Any]:
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": config.sms_type}}
    if config.sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": config.sender_id}
    origination = payload.get("from") or config.origination_number
    if origination:
        attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": origination}
    sns = client("sns", credentials, config, endpoint_url, timeout)
    answer = await _call("Amazon SNS", sns.publish, PhoneNumber=payload["to"], Message=payload["message"],
                         MessageAttributes=attributes)
    return {"message_id": answer["MessageId"]}


# -- SNS notifications: their signature -------------------------------------------------------------

# the fields signed, in AWS's order, for each message type (Subject only when present)
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_.-]{1,256}$")


def string_to_sign(message: dict[str, Any]) -> bytes:
    """AWS's canonical form of an SNS message: each signed field's name and value on lines."""
    fields = _SIGNED_FIELDS.get(message.get("Type", ""))
    if fields is None:
        raise ValueError(f"unknown SNS message type {message.get('Type')!r}")
    lines = []
    for name in fields:
        if name == "Subject" and message.get("Subject") is None:
            continue
        value = message.get(name)
        if not isinstance(value, str):
            raise ValueError(f"the SNS message has no {name}")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def topic_region(topic_arn: str) -> str | None:
    match = _TOPIC_ARN.match(topic_arn or "")
    return match.group(1) if match else None


def allowed_url(url: str, allowlist: list[str], region: str) -> bool:
    """An SNS certificate or subscription URL: https on `sns.<region>.amazonaws.com` by default;
    an allowlist entry is a host (https) or an origin (`http://127.0.0.1:8123`, for tests)."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return False
    for entry in allowlist or [f"sns.{region}.amazonaws.com"]:
        if "://" in entry:
            allowed = urlsplit(entry)
            if (parts.scheme, parts.hostname, parts.port) == (allowed.scheme, allowed.hostname, allowed.port):
                return True
        elif parts.scheme == "https" and parts.hostname == entry.lower() and parts.port in (None, 443):
            return True
    return False


_CERTIFICATES: dict[str, Any] = {}  # SigningCertURL -> the certificate (AWS rotates them rarely)
_CERTIFICATE_CACHE_SIZE = 32


async def _certificate(url: str, http_allowlist: list[str], timeout: float):
    from cryptography import x509

    from core import safe_client

    cached = _CERTIFICATES.get(url)
    if cached is not None:
        return cached
    async with safe_client(http_allowlist, timeout=timeout) as http:
        response = await http.get(url)
    if response.status_code != 200 or len(response.content) > 64 * 1024:
        raise ValueError(f"the signing certificate could not be fetched ({response.status_code})")
    certificate = x509.load_pem_x509_certificate(response.content)
    if len(_CERTIFICATES) >= _CERTIFICATE_CACHE_SIZE:
        _CERTIFICATES.pop(next(iter(_CERTIFICATES)))
    _CERTIFICATES[url] = certificate
    return certificate


async def verify_sns(message: dict[str, Any], cert_allowlist: list[str], http_allowlist: list[str],
                     timeout: float) -> None:
    """Raise ValueError unless `message` is signed by the certificate its SigningCertURL names,
    on an allowed host."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    region = topic_region(message.get("TopicArn", ""))
    if region is None:
        raise ValueError("the TopicArn is not an SNS topic's")
    url = message.get("SigningCertURL") or message.get("SigningCertUrl") or ""
    if not allowed_url(url, cert_allowlist, region) or not url.endswith(".pem"):
        raise ValueError("the SigningCertURL is not an allowed SNS certificate URL")
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise ValueError("unknown SignatureVersion")
    try:
        signature = base64.b64decode(message.get("Signature") or "", validate=True)
    except ValueError:
        raise ValueError("the Signature is not base64") from None
    certificate = await _certificate(url, http_allowlist, timeout)
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the signing certificate has no RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise ValueError("the signature does not match") from None


async def confirm_subscription(message: dict[str, Any], cert_allowlist: list[str], http_allowlist: list[str],
                               timeout: float) -> None:
    """Visit a (verified) SubscriptionConfirmation's SubscribeURL, on an allowed SNS host."""
    from core import safe_client

    url = message.get("SubscribeURL", "")
    if not allowed_url(url, cert_allowlist, topic_region(message.get("TopicArn", "")) or ""):
        raise ValueError("the SubscribeURL is not on an allowed SNS host")
    async with safe_client(http_allowlist, timeout=timeout) as http:
        response = await http.get(url)
    if response.status_code != 200:
        raise ValueError(f"SNS answered {response.status_code} to the subscription confirmation")
