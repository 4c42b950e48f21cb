"""The architecture holds: the core's layers import only downward, plugins use only the public
plugin API (core/__init__.py) and never each other (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "Contracts: 3 kept" in result.stdout, result.stdout[-2000:]


def test_a_plugin_importing_a_core_submodule_breaks_the_contract(tmp_path):
    """The check can fail: the same contracts over a copy of a plugin that reaches into the core."""
    package = tmp_path / "plugins"
    (package / "naughty").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "naughty" / "__init__.py").write_text("from core.kernel.hub import current_hub\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["core", "plugins"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "public API only"\ntype = "forbidden"\n'
        'source_modules = ["plugins"]\nforbidden_modules = ["core.kernel"]\n'
    )
    linter = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(linter), "--no-cache", "--config", str(config)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode != 0, result.stdout
    assert "plugins.naughty -> core.kernel.hub" in result.stdout, result.stdout[-2000:]
