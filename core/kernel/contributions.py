"""What plugins contribute besides routes and tables, checked as they register:
health checks (`/health`), workflow node types (run by the workflows plugin), integrations an
organization connects (`/api/integrations`) and command-line commands (`hub <plugin> <command>`). Permissions, error codes, functions, jobs, event types
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
