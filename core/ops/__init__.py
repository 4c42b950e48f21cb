"""Operations: metrics, logs and traces (observability), metering and quotas, rate limits,
and per-API-key usage."""
