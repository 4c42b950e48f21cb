"""LLM-callable functions contributed by plugins through `hub_functions`.

`available_functions(principal)` is what a model may be offered; `call_function` checks
the permission and the plugin's state for the caller's organization, validates the
arguments with the function's pydantic model and runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError

from core.kernel.errors import HubError, pydantic_details
from core.kernel.hub import Hub
from core.tenancy.principals import Principal

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")


@dataclass
class HubFunction:
    name: str
    description: str
    args_model: type[BaseModel]
    permission: str
    func: Callable[..., Awaitable[Any]]
    plugin: str


@dataclass(frozen=True)
class FunctionContext:
    org_id: Any
    user_id: Any
    principal: Principal


def registrar(hub: Hub):
    def for_plugin(plugin: str):
        def register(name, description, args_model, permission, func) -> None:
            if not _NAME.match(name):
                raise ValueError(f"plugin {plugin!r}: bad function name {name!r}")
            if name in hub.functions:
                raise ValueError(f"function {name!r} is registered by both {hub.functions[name].plugin!r} and {plugin!r}")
            if not (isinstance(args_model, type) and issubclass(args_model, BaseModel)):
                raise ValueError(f"plugin {plugin!r}: function {name!r} needs a pydantic args model")
            hub.functions[name] = HubFunction(name, description, args_model, permission, func, plugin)

        return register

    return for_plugin


def openai_tool(function: HubFunction) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": function.name,
            "description": function.description,
            "parameters": function.args_model.model_json_schema(),
        },
    }


async def available_functions(hub: Hub, principal: Principal) -> list[HubFunction]:
    disabled = await hub.disabled_for_org(principal.org_id)
    return [
        f for f in hub.functions.values() if f.plugin not in disabled and principal.can(f.permission)
    ]


async def call_function(hub: Hub, principal: Principal, name: str, arguments: dict[str, Any]) -> Any:
    function = hub.functions.get(name)
    if function is None or function.plugin in await hub.disabled_for_org(principal.org_id):
        raise HubError("NOT_FOUND", f"Function {name!r} not found")
    if not principal.can(function.permission):
        raise HubError("FORBIDDEN", "Insufficient permissions", {"permission": function.permission})
    try:
        args = function.args_model.model_validate(arguments)
    except ValidationError as error:
        raise HubError("VALIDATION_ERROR", "Invalid function arguments", pydantic_details(error)) from None
    return await function.func(FunctionContext(principal.org_id, principal.user_id, principal), args)
