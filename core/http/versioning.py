"""The `API-Version` header: dated versions with request and response transformers (seed 001
"API Versioning Strategy").

A client sends `API-Version: 2023-12-01` (or nothing: `[api_versions] default`). Every response
says which version it speaks in its `API-Version` header; an unknown version is a 400
VALIDATION_ERROR naming the header.

Plugins declare versions through the `hub_api_versions(register)` hook:

    def hub_api_versions(register):
        register("2023-12-01",
                 transform_request=lambda body: {"text": body.pop("body"), **body},   # old -> newer
                 transform_response=lambda body: {"body": body.pop("text"), **body},  # newer -> old
                 paths=["/api/notes*"])

The transformers registered under a version turn the next newer version's shape into that
version's shape (responses) and back (requests). Like Stripe's version changes, they chain:
a response is built in the newest shape, then passed through the transformers of every
version from the newest down to the requested one; a request body goes the other way, from
the requested version up to the newest, before the view (and its `validate_request`) reads
it. So the newest version needs no transformers, and each change is written once.

Transformers take and return JSON data (they may be `async`); they run on JSON bodies only,
for responses below 400 only (the error envelope does not change between versions), and
`paths` (fnmatch patterns on the route pattern or the path, below the plugin's mount) limits
them to some routes. Known versions: `[api_versions] supported`, the default, and every
version a plugin registers.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Any, Callable

from quart import Quart, current_app, g, request
from quart.wrappers.response import DataBody

from core.http.errors import error_response
from core.http.pipeline import Stage
from core.kernel.errors import HubError

log = logging.getLogger("hub.versioning")
HEADER = "API-Version"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSET = object()


def is_version(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class VersionChange:
    version: str
    plugin: str
    transform_request: Callable[[Any], Any] | None
    transform_response: Callable[[Any], Any] | None
    paths: tuple[str, ...] | None

    def applies_to(self, rule: str | None, path: str) -> bool:
        if self.paths is None:
            return True
        return any((rule is not None and fnmatchcase(rule, p)) or fnmatchcase(path, p) for p in self.paths)


class VersionRegistry:
    """The versions and transformers of one Hub, rebuilt when plugins come or go."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.default = hub.settings.api_versions.default
        self._configured = set(hub.settings.api_versions.supported) | {self.default}
        self._key: tuple | None = None
        self.changes: list[VersionChange] = []
        self.versions: list[str] = sorted(self._configured)

    @property
    def latest(self) -> str:
        return self.versions[-1]

    def refresh(self) -> None:
        implementations = self.hub.manager.hook.hub_api_versions.get_hookimpls()
        key = tuple(id(impl.function) for impl in implementations)
        if key != self._key:
            self._rebuild()
            self._key = key

    def _rebuild(self) -> None:
        changes: list[VersionChange] = []

        def registrar(plugin: str):
            def register(version, transform_request=None, transform_response=None, paths=None) -> None:
                changes.append(_change(self.hub, plugin, version, transform_request, transform_response, paths))

            return register

        self.hub.collect("hub_api_versions", registrar)
        self.changes = changes
        self.versions = sorted(self._configured | {change.version for change in changes})

    def resolve(self, requested: str | None) -> str:
        requested = (requested or "").strip()
        if not requested:
            return self.default
        if requested not in self.versions:
            raise HubError(
                "VALIDATION_ERROR", f"Unknown API version {requested[:40]!r}",
                {"field": HEADER, "reason": f"must be one of {', '.join(self.versions)}", "supported": self.versions},
            )
        return requested

    def request_chain(self, version: str, rule: str | None, path: str) -> list[Callable]:
        """Request transformers from `version` up to the newest (old shape -> current)."""
        chosen = [c for c in self.changes if c.version >= version and c.transform_request and c.applies_to(rule, path)]
        chosen.sort(key=lambda c: c.version)  # stable: registration order within a version
        return [c.transform_request for c in chosen]

    def response_chain(self, version: str, rule: str | None, path: str) -> list[Callable]:
        """Response transformers from the newest down to `version` (current shape -> old)."""
        chosen = [c for c in self.changes if c.version >= version and c.transform_response and c.applies_to(rule, path)]
        chosen.sort(key=lambda c: c.version, reverse=True)
        return [c.transform_response for c in chosen]


def _change(hub, plugin, version, transform_request, transform_response, paths) -> VersionChange:
    if not is_version(version):
        raise ValueError(f"version {version!r} is not a date (YYYY-MM-DD)")
    for name, transformer in (("transform_request", transform_request), ("transform_response", transform_response)):
        if transformer is not None and not callable(transformer):
            raise TypeError(f"{name} of version {version} must be callable")
    if paths is not None:
        if isinstance(paths, str):
            paths = [paths]
        if not all(isinstance(p, str) and p for p in paths):
            raise TypeError(f"paths of version {version} must be URL patterns")
        info = hub.plugins.get(plugin)
        mount = (info.mount if info is not None else "/").rstrip("/")
        paths = tuple(mount + p if p.startswith("/") else p for p in paths)
    return VersionChange(version, plugin, transform_request, transform_response, paths)


async def _apply(chain: list[Callable], data: Any) -> Any:
    for transformer in chain:
        data = transformer(data)
        if inspect.isawaitable(data):
            data = await data
    return data


def _versioned_request_class(base: type) -> type:
    """The app's request class, able to hand the view a transformed JSON body."""

    class VersionedRequest(base):
        _versioned_json: Any = _UNSET

        async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
            if self._versioned_json is not _UNSET:
                return self._versioned_json
            return await super().get_json(force=force, silent=silent, cache=cache)

    VersionedRequest.__name__ = VersionedRequest.__qualname__ = f"Versioned{base.__name__}"
    return VersionedRequest


def current_version() -> str:
    """The API version of the current request."""
    return getattr(g, "api_version", None) or current_app.extensions["hub"].extensions["api_versions"].default


def install(app: Quart, hub) -> Stage:
    """The API-Version header as a pipeline stage: request bodies up, responses down."""
    registry = VersionRegistry(hub)
    registry.refresh()  # a bad registration stops start-up, naming the plugin
    hub.extensions["api_versions"] = registry
    app.request_class = _versioned_request_class(app.request_class)

    async def _select_version() -> None:
        registry.refresh()
        version = registry.resolve(request.headers.get(HEADER))
        g.api_version = version
        if not request.is_json or request.method in ("GET", "HEAD", "OPTIONS"):
            return
        rule = request.url_rule.rule if request.url_rule is not None else None
        chain = registry.request_chain(version, rule, request.path)
        if not chain:
            return
        data = await request.get_json(silent=True)  # malformed: left to the view, which answers 400
        if data is not None:
            request._versioned_json = await _apply(chain, data)

    async def _answer_in_version(response):
        version = getattr(g, "api_version", None) or registry.default
        response.headers[HEADER] = version
        response.vary.add(HEADER)  # the body depends on it: caches must keep versions apart
        if (
            response.status_code >= 400
            or response.mimetype != "application/json"
            or not isinstance(response.response, DataBody)
        ):
            return response
        rule = request.url_rule.rule if request.url_rule is not None else None
        chain = registry.response_chain(version, rule, request.path)
        if not chain:
            return response
        try:
            data = await _apply(chain, json.loads(await response.get_data(as_text=False)))
        except Exception:
            log.exception("API version %s: a response transformer failed (request_id=%s)",
                          version, getattr(g, "request_id", None))
            failed = error_response("INTERNAL_ERROR", "Internal server error", 500)
            failed.headers[HEADER] = version
            return failed
        response.set_data(current_app.json.dumps(data))
        return response

    return Stage("api_version", before=_select_version, after=_answer_in_version)
