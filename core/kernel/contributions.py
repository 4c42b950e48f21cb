"""What plugins contribute besides routes and tables, checked as they register:
health checks (`/health`), workflow node types (run by the workflows plugin), integrations an
organization connects (`/api/integrations`), command-line commands (`hub <plugin> <command>`) and
analytics metrics (`hub_metrics`, served by the analytics plugin). Permissions, error codes, functions, jobs, event types
and API versions have registries of their own beside the code that uses them."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel

NODE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$")
PORT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
COMMAND_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
INTEGRATION_ID = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def health_check_registrar(hub: Any) -> Callable[[str], Callable[..., None]]:
    def for_plugin(plugin: str) -> Callable[..., None]:
        def register(name: str, check: Callable[[], Awaitable[str]]) -> None:
            if name in hub.health_checks:
                raise ValueError(f"health check {name!r} is registered twice")
            if not callable(check):
                raise TypeError(f"health check {name!r} must be an async function")
            hub.health_checks[name] = (plugin, check)

        return register

    return for_plugin


@dataclass(frozen=True)
class WorkflowNode:
    """A node type: `run(ctx, config, inputs)` gets a validated `config_model` and a dict of
    the data arriving on its input ports, and returns a dict keyed by output port."""

    name: str
    description: str
    config_model: type[BaseModel]
    run: Callable[..., Awaitable[dict[str, Any]]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    plugin: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "plugin": self.plugin,
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "config_schema": self.config_model.model_json_schema(),
        }


@dataclass(frozen=True)
class NodeContext:
    """What a node's `run` gets besides its config and inputs: the organization, the user who
    started the execution and their `principal` (what `call_function` checks), the Hub, and
    `usage`, where a node adds what it spent (`api_calls`, `tokens`, `cost`, `ai_ms`) for the
    execution's metrics."""

    org_id: Any
    user_id: Any
    hub: Any
    execution_id: str | None = None
    principal: Any = None
    usage: dict[str, float] = field(default_factory=dict, compare=False)

    def add_usage(self, **amounts: float) -> None:
        for name, amount in amounts.items():
            self.usage[name] = self.usage.get(name, 0) + amount


def workflow_node_registrar(hub: Any) -> Callable[[str], Callable[..., None]]:
    def for_plugin(plugin: str) -> Callable[..., None]:
        def register(name: str, description: str, config_model: type[BaseModel],
                     run: Callable[..., Awaitable[dict[str, Any]]],
                     inputs: tuple[str, ...] | list[str] = ("main",),
                     outputs: tuple[str, ...] | list[str] = ("main",)) -> None:
            if not isinstance(name, str) or not NODE_NAME.match(name):
                raise ValueError(f"workflow node name {name!r} must look like '<plugin>.<action>'")
            if name in hub.workflow_nodes:
                raise ValueError(f"workflow node {name!r} is registered by both "
                                 f"{hub.workflow_nodes[name].plugin!r} and {plugin!r}")
            if not (isinstance(config_model, type) and issubclass(config_model, BaseModel)):
                raise TypeError(f"workflow node {name!r} needs a pydantic config model")
            if not inspect.iscoroutinefunction(run):
                raise TypeError(f"workflow node {name!r}: run must be an `async def` function")
            for kind, ports in (("input", inputs), ("output", outputs)):
                if isinstance(ports, str) or not all(isinstance(p, str) and PORT_NAME.match(p) for p in ports):
                    raise ValueError(f"workflow node {name!r}: {kind} ports must be a list of lower_snake names")
                if len(set(ports)) != len(ports):
                    raise ValueError(f"workflow node {name!r}: {kind} ports repeat a name")
            hub.workflow_nodes[name] = WorkflowNode(name, description, config_model, run, tuple(inputs),
                                                    tuple(outputs), plugin)

        return register

    return for_plugin


def command_registrar(hub: Any) -> Callable[[str], Callable[..., None]]:
    def for_plugin(plugin: str) -> Callable[..., None]:
        def register(name: str, handler: Callable[..., Any], help: str,
                     arguments: tuple | list = ()) -> None:
            if not isinstance(name, str) or not COMMAND_NAME.match(name):
                raise ValueError(f"command name {name!r} must be lower-kebab-case")
            commands = hub.commands.setdefault(plugin, {})
            if name in commands:
                raise ValueError(f"command {plugin} {name} is registered twice")
            if not callable(handler):
                raise TypeError(f"command {plugin} {name}: handler must be callable")
            for argument in arguments:
                if not (isinstance(argument, tuple) and len(argument) == 2 and isinstance(argument[1], dict)):
                    raise TypeError(f"command {plugin} {name}: each argument is (flags, argparse options)")
            commands[name] = {"handler": handler, "help": help, "arguments": tuple(arguments)}

        return register

    return for_plugin


@dataclass(frozen=True)
class Integration:
    """Something an organization connects with credentials (seed 004's Integrations API): a mail
    or SMS provider, Slack, a DMS. `credentials_model` holds the secret fields (stored encrypted,
    never shown), `config_model` the visible settings (a subclass of core.IntegrationConfig), and
    `test(ctx)` checks a connection, raising with a readable message when it fails."""

    id: str
    name: str
    type: str
    category: str
    credentials_model: type[BaseModel]
    config_model: type[BaseModel] | None
    test: Callable[..., Awaitable[None]] | None
    description: str
    plugin: str


def integration_registrar(hub: Any) -> Callable[[str], Callable[..., None]]:
    def for_plugin(plugin: str) -> Callable[..., None]:
        def register(id: str, name: str, type: str, category: str, credentials_model: type[BaseModel], *,
                     config_model: type[BaseModel] | None = None,
                     test: Callable[..., Awaitable[None]] | None = None, description: str = "") -> None:
            if not isinstance(id, str) or not INTEGRATION_ID.match(id):
                raise ValueError(f"integration id {id!r} must be lower-case letters, digits, '-' or '_'")
            if id in hub.integrations:
                raise ValueError(f"integration {id!r} is registered by both {hub.integrations[id].plugin!r} "
                                 f"and {plugin!r}")
            for label, model in (("credentials_model", credentials_model), ("config_model", config_model)):
                if model is not None and not (inspect.isclass(model) and issubclass(model, BaseModel)):
                    raise TypeError(f"integration {id!r}: {label} must be a pydantic model")
            if test is not None and not inspect.iscoroutinefunction(test):
                raise TypeError(f"integration {id!r}: test must be an `async def` function")
            hub.integrations[id] = Integration(id, name, type, category, credentials_model, config_model, test,
                                               description, plugin)

        return register

    return for_plugin


# -- analytics metrics (hub_metrics) ------------------------------------------------------------

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
METRIC_AGGREGATES = ("count", "sum", "average", "count_distinct", "ratio")
TIME_GRANULARITIES = ("day", "week", "month")
METRIC_FORMATS = ("number", "percent", "currency")
_TIME_FIELDS = ("DatetimeField", "DateField")


@dataclass(frozen=True)
class Metric:
    """An analytics metric a plugin defines over its own model (`hub_metrics`). Every name in it
    (model, fields) was checked against the model when it registered, so the analytics plugin
    builds its SQL from these and from nothing a client sends. `id` is `<plugin>.<name>`."""

    id: str
    name: str
    plugin: str
    label: str
    description: str
    aggregate: str
    model: Any = None
    value: str | None = None
    value_map: tuple[tuple[Any, float], ...] | None = None
    time: str | None = None
    granularities: tuple[str, ...] = ()
    dimensions: dict[str, str] = field(default_factory=dict)
    where: dict[str, Any] = field(default_factory=dict)
    where_any: tuple[dict[str, Any], ...] = ()
    numerator: str | None = None
    denominator: str | None = None
    format: str = "number"

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "plugin": self.plugin, "label": self.label,
            "description": self.description, "aggregate": self.aggregate, "format": self.format,
            "time": self.time is not None, "granularities": list(self.granularities),
            "dimensions": [{"name": name, "label": label} for name, label in self.dimensions.items()],
        }


def _model_fields(model: Any) -> dict[str, Any]:
    meta = getattr(model, "_meta", None)
    if meta is None or not hasattr(meta, "fields_map") or not hasattr(meta, "db_table"):
        raise TypeError(f"{model!r} is not a tortoise model")
    return meta.fields_map


def _check_conditions(metric: str, fields_map: dict[str, Any], where: Any, what: str) -> dict[str, Any]:
    if not isinstance(where, dict):
        raise TypeError(f"metric {metric!r}: {what} must be a dict of field -> value")
    for name, value in where.items():
        if name not in fields_map or not hasattr(fields_map[name], "source_field"):
            raise ValueError(f"metric {metric!r}: {what} names {name!r}, not a field of the model")
        if isinstance(value, dict) and set(value) != {"not"}:
            raise ValueError(f"metric {metric!r}: {what}[{name!r}] may only be a dict {{'not': value}}")
    return dict(where)


def metric_registrar(hub: Any) -> Callable[[str], Callable[..., None]]:
    def for_plugin(plugin: str) -> Callable[..., None]:
        def register(name: str, label: str, *, model: Any = None, aggregate: str = "count",
                     value: str | None = None, value_map: dict[Any, float] | None = None,
                     time: str | None = "created_at", granularities: tuple[str, ...] | list[str] = TIME_GRANULARITIES,
                     dimensions: dict[str, str] | None = None, where: dict[str, Any] | None = None,
                     where_any: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
                     numerator: str | None = None, denominator: str | None = None,
                     description: str = "", format: str = "number") -> None:
            if not isinstance(name, str) or not METRIC_NAME.match(name):
                raise ValueError(f"metric name {name!r} must be lower_snake_case")
            metric_id = f"{plugin}.{name}"
            if metric_id in hub.metrics:
                raise ValueError(f"metric {metric_id!r} is registered twice")
            if aggregate not in METRIC_AGGREGATES:
                raise ValueError(f"metric {metric_id!r}: aggregate must be one of {', '.join(METRIC_AGGREGATES)}")
            if format not in METRIC_FORMATS:
                raise ValueError(f"metric {metric_id!r}: format must be one of {', '.join(METRIC_FORMATS)}")
            granularities = tuple(granularities or ())
            if any(g not in TIME_GRANULARITIES for g in granularities):
                raise ValueError(f"metric {metric_id!r}: granularities are among {', '.join(TIME_GRANULARITIES)}")
            dimensions = dict(dimensions or {})
            if aggregate == "ratio":
                if model is not None or value is not None or where or where_any:
                    raise ValueError(f"metric {metric_id!r}: a ratio takes numerator and denominator only")
                if not (isinstance(numerator, str) and isinstance(denominator, str)):
                    raise ValueError(f"metric {metric_id!r}: a ratio needs numerator and denominator metric names")
                # resolved and checked once every plugin has registered (check_metrics)
                hub.metrics[metric_id] = Metric(
                    metric_id, name, plugin, label, description, aggregate, time=time, granularities=granularities,
                    dimensions=dimensions, numerator=numerator if "." in numerator else f"{plugin}.{numerator}",
                    denominator=denominator if "." in denominator else f"{plugin}.{denominator}", format=format)
                return
            fields_map = _model_fields(model)
            if "org_id" not in fields_map:
                raise ValueError(f"metric {metric_id!r}: the model has no org_id field to scope queries by")
            if aggregate == "count":
                if value is not None or value_map is not None:
                    raise ValueError(f"metric {metric_id!r}: a count takes no value field")
            elif value is None or value not in fields_map or not hasattr(fields_map[value], "source_field"):
                raise ValueError(f"metric {metric_id!r}: {aggregate} needs `value`, a field of the model")
            if value_map is not None:
                if aggregate not in ("sum", "average") or not isinstance(value_map, dict) or not all(
                        isinstance(number, (int, float)) for number in value_map.values()):
                    raise ValueError(f"metric {metric_id!r}: value_map ({{value: number}}) is for sum and average")
            if time is not None:
                if time not in fields_map or type(fields_map[time]).__name__ not in _TIME_FIELDS:
                    raise ValueError(f"metric {metric_id!r}: time {time!r} is not a date or datetime field of the model")
            else:
                granularities = ()
            for dimension, dimension_label in dimensions.items():
                if dimension not in fields_map or not hasattr(fields_map[dimension], "source_field"):
                    raise ValueError(f"metric {metric_id!r}: dimension {dimension!r} is not a field of the model")
                if not isinstance(dimension_label, str):
                    raise TypeError(f"metric {metric_id!r}: dimension {dimension!r} needs a label")
            where = _check_conditions(metric_id, fields_map, where or {}, "where")
            where_any = tuple(_check_conditions(metric_id, fields_map, alternative, "where_any")
                              for alternative in where_any)
            hub.metrics[metric_id] = Metric(
                metric_id, name, plugin, label, description, aggregate, model=model, value=value,
                value_map=tuple(value_map.items()) if value_map is not None else None, time=time,
                granularities=granularities, dimensions=dimensions, where=where, where_any=where_any, format=format)

        return register

    return for_plugin


def check_metrics(hub: Any) -> None:
    """Once every plugin has registered: a ratio's two metrics exist, are not ratios, and allow
    the ratio's dimensions and granularities (a ratio without its own takes what both allow)."""
    for metric_id, metric in list(hub.metrics.items()):
        if metric.aggregate != "ratio":
            continue
        parts = []
        for role in ("numerator", "denominator"):
            other = hub.metrics.get(getattr(metric, role))
            if other is None and getattr(metric, role).split(".", 1)[0] not in hub.plugins:
                break  # a metric of a plugin that is off: the ratio goes with it
            if other is None or other.aggregate == "ratio":
                raise ValueError(f"metric {metric_id!r}: {role} {getattr(metric, role)!r} is not a registered "
                                 f"count, sum, average or distinct count")
            parts.append(other)
        if len(parts) < 2:
            del hub.metrics[metric_id]
            continue
        numerator, denominator = parts
        shared = {name: label for name, label in numerator.dimensions.items() if name in denominator.dimensions}
        dimensions = metric.dimensions or shared
        if any(name not in shared for name in dimensions):
            raise ValueError(f"metric {metric_id!r}: dimensions {sorted(set(dimensions) - set(shared))} are not "
                             f"allowed by both its numerator and denominator")
        both = tuple(g for g in numerator.granularities if g in denominator.granularities)
        granularities = tuple(g for g in metric.granularities if g in both)
        has_time = numerator.time is not None and denominator.time is not None
        hub.metrics[metric_id] = Metric(
            metric.id, metric.name, metric.plugin, metric.label, metric.description, "ratio",
            time=(numerator.time if has_time else None), granularities=granularities if has_time else (),
            dimensions=dimensions, numerator=numerator.id, denominator=denominator.id, format=metric.format)
