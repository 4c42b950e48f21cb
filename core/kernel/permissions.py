"""Permissions, roles and API-key scopes.

Every permission has a level. Roles get permissions by level (viewer: read; member: read +
write; developer: read + write + develop, for what builds on the Hub, such as changing
workflows; admin: everything). An API key's scopes narrow what its owner may do: `read`,
`write`, `develop` and `admin` name levels (each includes the ones before it), `crm.*` a
plugin's permissions, any other scope one exact permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

LEVELS = ("read", "write", "develop", "admin")
ROLE_LEVELS = {
    "viewer": {"read"},
    "member": {"read", "write"},
    "developer": {"read", "write", "develop"},
    "admin": {"read", "write", "develop", "admin"},
}


@dataclass(frozen=True)
class Permission:
    name: str
    description: str
    level: str
    plugin: str


class PermissionRegistry:
    def __init__(self) -> None:
        self.permissions: dict[str, Permission] = {}

    def register_for(self, plugin: str):
        def register(name: str, description: str, level: str = "read") -> None:
            if level not in LEVELS:
                raise ValueError(f"plugin {plugin!r}: permission {name!r} has unknown level {level!r}")
            if not name.replace(".", "").replace("_", "").isalnum() or name.endswith("*"):
                raise ValueError(f"plugin {plugin!r}: bad permission name {name!r}")
            existing = self.permissions.get(name)
            if existing is not None and existing.plugin != plugin:
                raise ValueError(f"permission {name!r} is registered by both {existing.plugin!r} and {plugin!r}")
            self.permissions[name] = Permission(name, description, level, plugin)

        return register

    def for_role(self, role: str) -> set[str]:
        levels = ROLE_LEVELS.get(role, set())
        return {p.name for p in self.permissions.values() if p.level in levels}

    def for_scopes(self, scopes: Iterable[str]) -> set[str]:
        granted: set[str] = set()
        for scope in scopes:
            if scope in LEVELS:
                allowed = LEVELS[: LEVELS.index(scope) + 1]  # "write" includes "read"
                granted |= {p.name for p in self.permissions.values() if p.level in allowed}
            elif scope.endswith(".*"):
                prefix = scope[:-1]
                granted |= {name for name in self.permissions if name.startswith(prefix)}
            elif scope in self.permissions:
                granted.add(scope)
        return granted

    def is_valid_scope(self, scope: str) -> bool:
        if scope in LEVELS or scope in self.permissions:
            return True
        return scope.endswith(".*") and any(name.startswith(scope[:-1]) for name in self.permissions)
