"""The start-up summary of `hub serve`: what is running, where, and what is missing.

    The Hub 0.1.0 is ready at http://127.0.0.1:8000 (1 worker)
      database    sqlite://data/hub.sqlite3 (2 migrations applied)
      redis       none: caches, rate limits and jobs in each process's memory
      secret key  generated now, kept in data/secret_key
      plugins     core 0.1.0: ready
                  llm 0.1.0: no model at data/models/SmolLM2-135M-Instruct.Q4_1.gguf (hub llm fetch-model)
      ...

The master process of `hub serve` knows the address, the worker count and the migrations it
applied; it hands them to its workers in one environment variable (`facts_for_workers`). The
first worker that is up runs the health checks and logs the summary, once: readable lines on a
terminal, one JSON record otherwise (core/ops/observability/logs.py). A plugin's state is its
health checks' verdict, and a check that raises says why in its message ("no model ...").
Outside `hub serve` (tests, `hypercorn core.asgi:app`) nothing is logged.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from quart import Quart

from core.kernel.plugins import HUB_VERSION
from core.ops.observability.logs import log_format

log = logging.getLogger("hub.startup")

FACTS_VARIABLE = "HUB_SERVE_FACTS"  # set by `hub serve` for its workers; not a setting
CHECK_TIMEOUT_SECONDS = 3.0
NO_REDIS = "none: caches, rate limits and jobs in each process's memory"


def facts_for_workers(url: str, workers: int, migrations: int | None, key_generated: bool,
                      server: str = "hypercorn") -> str:
    """What the workers cannot know themselves, as the value of FACTS_VARIABLE. `migrations` is
    how many were applied (None: not checked). The token file is taken by the first worker to
    announce, so N workers give one summary; it is removed when `hub serve` ends."""
    handle, token = tempfile.mkstemp(prefix="hub-serve-summary-")
    os.close(handle)
    atexit.register(Path(token).unlink, missing_ok=True)
    return json.dumps({"url": url, "workers": workers, "server": server, "migrations": migrations,
                       "key_generated": key_generated, "token": token})


def install(app: Quart, hub: Any) -> None:
    """Log the summary once the server has started (after the database opened and the plugins'
    hub_startup ran: register this after the lifecycle), without holding up the start."""
    raw = os.environ.get(FACTS_VARIABLE)
    if not raw:
        return
    facts = json.loads(raw)
    tasks: set[asyncio.Task] = set()

    @app.before_serving
    async def _announce() -> None:
        if _first_to_announce(facts["token"]):
            task = asyncio.ensure_future(announce(app, hub, facts))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    @app.after_serving
    async def _stop_announcing() -> None:
        for task in tasks:
            task.cancel()


def _first_to_announce(token: str) -> bool:
    try:
        os.unlink(token)  # succeeds in exactly one worker
    except FileNotFoundError:
        return False
    return True


async def announce(app: Quart, hub: Any, facts: dict[str, Any]) -> None:
    try:
        states = await plugin_states(hub)
        lines, context = summary(hub, facts, states, _docs_path(app))
    except Exception:  # the summary must never take a worker down
        log.exception("could not write the start-up summary")
        return
    if log_format(hub.settings) == "json":
        log.info(lines[0], extra={"context": context})
    else:
        log.info("\n".join(lines))


async def plugin_states(hub: Any) -> dict[str, str]:
    """Per enabled plugin: "ready" when its health checks pass, "loaded" without checks, else
    the first failing check's reason (its exception's message, or its verdict)."""
    checks = list(hub.health_checks.items())
    verdicts = await asyncio.gather(*(_verdict(check) for _, (_, check) in checks))
    checked: set[str] = set()
    problems: dict[str, str] = {}
    for (name, (plugin, _)), verdict in zip(checks, verdicts):
        checked.add(plugin)
        if verdict != "healthy" and plugin not in problems:
            problems[plugin] = verdict if name == plugin else f"{name}: {verdict}"
    return {plugin: problems.get(plugin, "ready" if plugin in checked else "loaded") for plugin in hub.plugins}


async def _verdict(check) -> str:
    try:
        result = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as error:
        return str(getattr(error, "message", None) or error) or type(error).__name__
    return result if isinstance(result, str) else "unhealthy"


def summary(hub: Any, facts: dict[str, Any], states: dict[str, str], docs_path: str | None) -> tuple[list[str], dict]:
    """(readable lines, the same facts as a JSON context)."""
    settings = hub.settings
    url, workers, server = facts["url"], facts["workers"], facts.get("server", "hypercorn")
    database = masked_url(settings.effective_database_url)
    migrations = facts["migrations"]
    if migrations is None:
        schema = "migrations not checked (auto_migrate = false)"
    else:
        schema = f"{migrations} migration{'s' if migrations != 1 else ''} applied" if migrations else "up to date"
    redis = masked_url(settings.redis_url) if settings.redis_url else None
    key_file = Path(settings.data_dir) / "secret_key"
    if settings.secret_key is not None:
        secret = "from the secret_key setting"
    else:
        secret = f"{'generated now, kept' if facts['key_generated'] else 'kept'} in {key_file} (set secret_key to choose one)"
    observability = settings.observability
    metrics = None
    if observability.metrics_enabled:
        metrics = f"{url}/metrics " + ("(needs the metrics token)" if observability.metrics_token else
                                       "(public: set [observability] metrics_token to protect it)")
    disabled = sorted(settings.disabled)
    plugin_lines = [f"{name} {hub.plugins[name].version}: {state}" for name, state in states.items()]
    if disabled:
        plugin_lines.append(f"disabled: {', '.join(disabled)}")

    lines = [
        f"The Hub {HUB_VERSION} is ready at {url} ({workers} {server} worker{'s' if workers != 1 else ''})",
        f"  database    {database} ({schema})",
        f"  redis       {redis or NO_REDIS}",
        f"  secret key  {secret}",
        *(f"  {'plugins' if index == 0 else '':<10}  {line}" for index, line in enumerate(plugin_lines)),
        f"  API docs    {url}{docs_path}" if docs_path else "  API docs    off",
        f"  metrics     {metrics or 'off'}",
    ]
    context = {
        "version": HUB_VERSION, "url": url, "workers": workers, "server": server, "database": database, "migrations_applied": migrations,
        "redis": redis, "secret_key": "setting" if settings.secret_key is not None else str(key_file),
        "plugins": states, "disabled_plugins": disabled, "docs": f"{url}{docs_path}" if docs_path else None,
        "metrics": {"enabled": observability.metrics_enabled, "protected": observability.metrics_token is not None},
    }
    return lines, context


def masked_url(url: str) -> str:
    """The URL without its password (`postgres://hub:***@db/hub`)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _docs_path(app: Quart) -> str | None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "swagger_ui":
            return rule.rule
    return None
