"""Workers (seed 002 "Workers Service"): run a job type or a Hub workflow by name with a
priority, follow it, cancel it, and the organization's job metrics. A view over the core's job
rows (`core.enqueue` and friends); the jobs themselves run on the core's dramatiq workers
(`hub serve` in process, `hub worker` with Redis), where priorities are real queues."""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.workers.settings import WorkersSettings

    return WorkersSettings


def hub_routes(app):
    from plugins.workers.routes import bp

    return bp


def hub_permissions(register):
    register("workers.read", "See workflow jobs and the organization's job metrics", "read")
    register("workers.run", "Start job types and workflows through the workers API", "write")
    register("workers.cancel", "Cancel jobs through the workers API", "write")
