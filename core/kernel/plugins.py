"""Finding, loading and checking plugins.

Built-in plugins are the packages under `plugins/` (a package without hooks, such as
`plugins/ml/`, groups several plugins one level down); third-party plugins come from the
`hub.plugins` entry-point group, or from the folder named by the `plugins_path` setting (each
package or module there with `hub_*` functions; the one way to add plugins to the one-file
binary). All are loaded the same way: one pluggy registration each, named after the folder, the
module or the entry point.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable

import pluggy
from pydantic import BaseModel, ValidationError

from core.kernel import hookspecs
from core.kernel.settings import PLUGIN_CORE_KEYS, Settings, SettingsError, describe_validation_error

CORE_PLUGIN = "core"
HUB_VERSION = "0.1.0"


class PluginError(Exception):
    """The set of plugins cannot start; the message says which plugin and why."""


class HubPluginManager(pluggy.PluginManager):
    """Like pytest: a function named `hub_*` is an implementation, with or without the marker."""

    def parse_hookimpl_opts(self, plugin: Any, name: str):
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("hub_"):
            method = getattr(plugin, name, None)
            if inspect.isroutine(method):
                return {}
        return opts


@dataclass
class PluginInfo:
    name: str
    module: Any
    source: str  # "core", "builtin", "entry_point", "plugins_path" or "explicit"
    version: str
    mount: str = "/"
    requires: tuple[str, ...] = ()
    settings: BaseModel | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def can_be_disabled(self) -> bool:
        return self.name != CORE_PLUGIN


def discover_builtin(package: str = "plugins") -> list[tuple[str, ModuleType]]:
    """Packages under plugins/ that implement hooks, one level of grouping allowed."""
    found = []
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        if _has_hooks(module):
            found.append((info.name, module))
        else:
            for sub in pkgutil.iter_modules(module.__path__):
                if sub.ispkg:
                    submodule = importlib.import_module(f"{module.__name__}.{sub.name}")
                    if _has_hooks(submodule):
                        found.append((sub.name, submodule))
    return found


def discover_entry_points() -> list[tuple[str, Any, str]]:
    found = []
    for entry_point in importlib.metadata.entry_points(group="hub.plugins"):
        try:
            module = entry_point.load()
        except Exception as error:  # a broken third-party package must say who it is
            raise PluginError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to import: {error}")
        version = entry_point.dist.version if entry_point.dist else "0"
        found.append((entry_point.name, module, version))
    return found


def discover_plugins_path(folder: Path) -> list[tuple[str, ModuleType]]:
    """The plugins in `folder` (the `plugins_path` setting): every package (a directory with an
    `__init__.py`) or module (`name.py`) there that implements hooks, imported under its own
    name as if the folder were on the Python path, which it is put on (so a plugin's
    `from my_plugin.models import ...` and its `migrations` package work as when installed).
    Names starting with `_` or `.` are skipped, and so are modules without hooks (helpers).
    A name that another module on the path already takes is an error, not a silent swap."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise SettingsError(f"invalid setting plugins_path: {str(folder)!r} is not a directory")
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
        importlib.invalidate_caches()
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        elif entry.is_file() and entry.suffix == ".py":
            name = entry.stem
        else:
            continue
        if not name.isidentifier():
            continue
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a broken plugin must say who it is
            raise PluginError(f"plugin {name!r} ({entry}) failed to import: {error}") from None
        origin = Path(getattr(module, "__file__", None) or "").resolve()
        if folder not in origin.parents:
            raise PluginError(f"plugin {name!r} in plugins_path ({entry}) is shadowed by the module "
                              f"{name!r} from {getattr(module, '__file__', None) or 'the Hub itself'}: rename it")
        if _has_hooks(module):
            found.append((name, module))
    return found


def _has_hooks(module: Any) -> bool:
    return any(name.startswith("hub_") for name in dir(module))


def load_plugins(
    settings: Settings, core_module: Any, plugins: Iterable[Any] | None = None
) -> tuple[HubPluginManager, dict[str, PluginInfo]]:
    """Register the core's own hooks (`core_module`, core/builtin) + the chosen plugins, drop
    the disabled ones, validate the rest.

    `plugins=None` discovers built-in, entry-point and plugins_path plugins; otherwise it is a list of
    modules (or `(name, module)` pairs) used instead, as tests do.
    """
    candidates: list[PluginInfo] = [PluginInfo(CORE_PLUGIN, core_module, "core", HUB_VERSION)]
    if plugins is None:
        for name, module in discover_builtin():
            candidates.append(PluginInfo(name, module, "builtin", getattr(module, "__version__", HUB_VERSION)))
        if settings.plugins.entry_points:
            for name, module, version in discover_entry_points():
                candidates.append(PluginInfo(name, module, "entry_point", version))
        if settings.plugins_path is not None:
            for name, module in discover_plugins_path(settings.plugins_path):
                candidates.append(PluginInfo(name, module, "plugins_path", getattr(module, "__version__", HUB_VERSION)))
    else:
        for item in plugins:
            name, module = item if isinstance(item, tuple) else (item.__name__.rsplit(".", 1)[-1], item)
            candidates.append(PluginInfo(name, module, "explicit", getattr(module, "__version__", HUB_VERSION)))

    seen: dict[str, PluginInfo] = {}
    for info in candidates:
        if info.name in seen:
            raise PluginError(
                f"two plugins are named {info.name!r}: {_origin(seen[info.name])} and {_origin(info)}"
            )
        seen[info.name] = info

    disabled = settings.disabled
    if CORE_PLUGIN in disabled:
        raise PluginError("the core plugin cannot be disabled")
    unknown = disabled - set(seen)
    if unknown:
        raise PluginError(f"plugins.disabled names unknown plugin(s): {', '.join(sorted(unknown))}")

    manager = HubPluginManager("hub")
    manager.add_hookspecs(hookspecs)
    enabled: dict[str, PluginInfo] = {}
    for info in seen.values():
        section = settings.plugins.section(info.name)
        if info.name in disabled or section.get("enabled", True) is False:
            continue
        info.mount = _normalise_mount(section.get("mount", getattr(info.module, "mount", "/")), info.name)
        info.requires = tuple(section.get("requires", getattr(info.module, "requires", ())))
        manager.register(info.module, name=info.name)
        info.hooks = sorted(impl_name for impl_name in dir(info.module) if impl_name.startswith("hub_"))
        enabled[info.name] = info

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(f"plugin {error.plugin_name if hasattr(error, 'plugin_name') else ''!s}: {error}") from None

    _check_requirements(settings, seen, enabled)
    return manager, enabled


def _origin(info: PluginInfo) -> str:
    return f"{getattr(info.module, '__name__', repr(info.module))} ({info.source})"


def _normalise_mount(mount: Any, name: str) -> str:
    if not isinstance(mount, str) or not mount.startswith("/"):
        raise SettingsError(f"invalid setting plugins.{name}.mount: must be a path starting with '/'")
    return mount.rstrip("/")  # "" for the root


def _check_requirements(settings: Settings, seen: dict[str, PluginInfo], enabled: dict[str, PluginInfo]) -> None:
    for name in settings.plugins.required:
        if name not in seen:
            raise PluginError(f"required plugin {name!r} is not installed")
        if name not in enabled:
            raise PluginError(f"required plugin {name!r} is disabled")
    for info in enabled.values():
        for needed in info.requires:
            if needed not in seen:
                raise PluginError(f"plugin {info.name!r} requires plugin {needed!r}, which is not installed")
            if needed not in enabled:
                raise PluginError(f"plugin {info.name!r} requires plugin {needed!r}, which is disabled")


def load_plugin_settings(hub: Any) -> None:
    """Validate each plugin's settings section with the model its `hub_config` returns."""
    settings = hub.settings
    for name, result in call_each(hub.manager, "hub_config", hub=hub):
        section = {k: v for k, v in settings.plugins.section(name).items() if k not in PLUGIN_CORE_KEYS}
        if result is None:
            continue
        if not (isinstance(result, type) and issubclass(result, BaseModel)):
            raise PluginError(f"plugin {name!r}: hub_config must return a pydantic model class")
        try:
            hub.plugins[name].settings = result(**section)
        except ValidationError as error:
            raise SettingsError(describe_validation_error(error, prefix=f"plugins.{name}")) from None


def _arguments(manager: pluggy.PluginManager, impl: Any, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    plugin_name = manager.get_name(impl.plugin)
    arguments = {}
    for argname in impl.argnames:
        value = kwargs[argname]
        if argname == "register" and getattr(value, "per_plugin", False):
            value = value(plugin_name)
        arguments[argname] = value
    return plugin_name, arguments


def call_each(manager: pluggy.PluginManager, hook_name: str, *, skip: Any = (), **kwargs: Any) -> list[tuple[str, Any]]:
    """Call one hook plugin by plugin (registration order), so each result is known to come
    from its plugin; plugins named in `skip` are left out. For hooks that must answer at
    once (the `register` hooks, hub_config, hub_models, hub_routes): an implementation that
    returns an awaitable is a PluginError.

    A `register` argument may be a function of the plugin name (`per_plugin`): it is then
    bound to each plugin in turn, which is how registries stamp contributions with their
    owner. Each implementation gets only the arguments it names.
    """
    results = []
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        if manager.get_name(impl.plugin) in skip:
            continue
        plugin_name, arguments = _arguments(manager, impl, kwargs)
        result = impl.function(**arguments)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise PluginError(f"plugin {plugin_name!r}, hook {hook_name}: must not be async (it runs while the app is built)")
        results.append((plugin_name, result))
    return results


async def await_each(manager: pluggy.PluginManager, hook_name: str, *, skip: Any = (),
                     on_error: Callable[[str, Exception], None] | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
    """Like `call_each`, for hooks that may be async: awaits what needs awaiting (Datasette's
    `await_me_maybe`), one implementation after the other. With `on_error`, a failing
    implementation is reported to it (plugin, exception) and the others still run."""
    results = []
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        if manager.get_name(impl.plugin) in skip:
            continue
        plugin_name, arguments = _arguments(manager, impl, kwargs)
        try:
            result = impl.function(**arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            if on_error is None:
                raise
            on_error(plugin_name, error)
            continue
        results.append((plugin_name, result))
    return results


def collect(hub: Any, hook_name: str, register_for: Callable[[str], Callable[..., Any]]) -> None:
    """Call a `register` hook on every plugin, with `register_for(plugin)` as its callback; a
    ValueError or TypeError from the callback stops start-up as a PluginError naming the
    plugin and the hook."""

    @per_plugin
    def bound(plugin: str) -> Callable[..., Any]:
        register = register_for(plugin)

        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                return register(*args, **kwargs)
            except (ValueError, TypeError) as error:
                raise PluginError(f"plugin {plugin!r}, hook {hook_name}: {error}") from None

        return checked

    call_each(hub.manager, hook_name, register=bound, hub=hub)


def per_plugin(factory):
    """Mark `factory(plugin_name) -> register` for `call_each`."""
    factory.per_plugin = True
    return factory
