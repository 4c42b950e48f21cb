"""Settings of the workers plugin (`[plugins.workers]` in config/hub.toml,
`HUB_PLUGINS__WORKERS__<KEY>` in the environment)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core import CommaList

class WorkersSettings(BaseModel):
    # Registered job types `POST /api/v1/workflows/execute` may start as `workflow_type`
    # (fnmatch patterns), among those whose plugin lets clients start them (`start_permission`,
    # held by the caller); Hub workflows (by name or id) always.
    job_types: CommaList = Field(default_factory=lambda: ["*"])
    # Hub workflows (the workflows plugin's, through its hub functions) may be started by name or id.
    run_workflows: bool = True
