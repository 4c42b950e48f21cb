"""The DMS job: `dms.sync` (service.run_sync), one run of a connection, resumable from its cursor."""

from __future__ import annotations

from plugins.integrations.dms.service import run_sync

__all__ = ["run_sync"]
