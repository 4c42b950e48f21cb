"""`hub new-plugin NAME`: write a new plugin package from the templates in ./templates/plugin
(shipped with the Hub as package data).

The package it writes (by default ./hub-NAME) has an entry point in `hub.plugins`, hook
implementations in __init__.py, a model with its migration, routes with permissions, an event
type, a job, a hub function, settings, schemas, a service module, and tests on the Hub's test
kit that pass as generated. Templates are `string.Template` files: `${plugin}` (the plugin's
name, e.g. `notes`), `${package}` (`hub_notes`), `${dist}` (`hub-notes`), `${Camel}` (`Notes`),
`${upper}` (`NOTES`), `${title}` (`Notes`).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parent / "templates" / "plugin"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(ValueError):
    """A name or a directory `new-plugin` refuses, with the reason."""


def names_for(plugin: str) -> dict[str, str]:
    if not NAME_PATTERN.fullmatch(plugin) or plugin.endswith("_") or "__" in plugin:
        raise ScaffoldError(f"plugin name {plugin!r}: use lowercase letters, digits and single underscores, "
                            "starting with a letter (at most 40 characters), e.g. 'notes'")
    if keyword.iskeyword(plugin) or plugin in {"core", "plugins", "hub", "test", "tests"}:
        raise ScaffoldError(f"plugin name {plugin!r} is reserved")
    camel = "".join(part.capitalize() for part in plugin.split("_"))
    return {
        "plugin": plugin,
        "package": f"hub_{plugin}",
        "dist": f"hub-{plugin.replace('_', '-')}",
        "Camel": camel,
        "upper": plugin.upper(),
        "title": " ".join(part.capitalize() for part in plugin.split("_")),
    }


def _target(relative: Path, names: dict[str, str]) -> Path:
    parts = list(relative.parts)
    if parts[0] == "package":
        parts[0] = names["package"]
    name = parts[-1].removesuffix(".tmpl")
    parts[-1] = f"test_{names['plugin']}.py" if name == "test_plugin.py" else name
    return Path(*parts)


def new_plugin(plugin: str, directory: str | Path | None = None) -> list[Path]:
    """Write the package of a new plugin into `directory` (default ./hub-<name>), which must not
    exist or be empty; the files written, relative to it."""
    names = names_for(plugin)
    root = Path(directory) if directory is not None else Path(names["dist"])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not an empty directory")
    written = []
    for source in sorted(TEMPLATES.rglob("*.tmpl")):
        relative = _target(source.relative_to(TEMPLATES), names)
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(source.read_text()).substitute(names))
        written.append(relative)
    return written
