"""The Hub's Python SDK.

    from hub_sdk import HubClient

    client = HubClient(base_url="https://hub.example.com", api_key="hub_...")
    leads = client.leads.get_all(status="new", limit=10)
    new_lead = client.leads.create({"name": "John Doe", "email": "john@example.com", "source": "api"})
    result = client.agents.execute(agent_id, {"input": "Qualify this lead", "context": {"lead_id": new_lead.id}})

`AsyncHubClient` is the same, awaited. Models (`hub_sdk.models`) are generated from the Hub's
OpenAPI document; errors are the classes of `hub_sdk.errors`.
"""

from hub_sdk import models
from hub_sdk._base import RetryPolicy
from hub_sdk.client import AsyncHubClient, HubClient
from hub_sdk.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HubError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)

__version__ = "0.1.0"
__all__ = [
    "APIConnectionError", "APIError", "AsyncHubClient", "AuthenticationError", "BadRequestError", "ConflictError",
    "HubClient", "HubError", "NotFoundError", "PayloadTooLargeError", "PermissionDeniedError", "QuotaExceededError",
    "RateLimitError", "RetryPolicy", "ServerError", "ServiceUnavailableError", "ValidationError", "models",
]
