"""Settings of the DMS plugin: `[plugins.dms]` in config/hub.toml, `HUB_PLUGINS__DMS__<KEY>` in
the environment. A DMS's address and credentials are not settings: each organization connects
its own at `/api/v1/dms/connections`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import CommaList


class DmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # base_url is given by organizations: like webhooks, it may not be a loopback, private or
    # link-local address unless listed here or in [webhooks] allowlist (a host, an IP or a CIDR):
    # an on-premise DMS in the dealer's network is allowed by listing it
    allowlist: CommaList = Field(default_factory=list, description="DMS hosts allowed despite the SSRF guard")
    page_size: int = Field(100, ge=1, le=1000, description="records asked for per page")
    retry_backoff_seconds: float = Field(1.0, ge=0, le=60, description="first back-off after a 5xx or network error")
    retry_backoff_max_seconds: float = Field(30.0, ge=0, le=600, description="longest back-off between retries")
    max_retry_after_seconds: float = Field(120.0, ge=0, le=3600,
                                           description="longest Retry-After honoured (longer: the call fails)")
    breaker_failures: int = Field(3, ge=1, le=100,
                                  description="failed calls in a row (after their retries) that open the circuit")
    breaker_cooldown_seconds: float = Field(300.0, ge=0, le=86400,
                                            description="how long an open circuit refuses syncs before one try")
    token_refresh_margin_seconds: float = Field(60.0, ge=0, le=3600,
                                                description="an OAuth2 token is refreshed this long before it expires")
    service_due_days: int = Field(14, ge=0, le=365,
                                  description="dms.vehicle.service_needed is emitted when a vehicle's service is due "
                                              "within this many days")
    service_interval_days: int = Field(180, ge=1, le=3650,
                                       description="a vehicle's next service: its last service date plus this")
    scheduler_interval_seconds: float = Field(60.0, gt=0, le=3600,
                                              description="how often each process looks for scheduled syncs due")
