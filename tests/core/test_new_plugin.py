"""`hub new-plugin NAME` writes a plugin package whose own tests, on the Hub's test kit, pass as
generated: the package is loaded into a Hub (as a plugin module through the kit's
`hub_plugins` fixture, without being installed) by a pytest run of its tests in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def hub_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "hub.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_the_generated_plugin_passes_its_own_tests(tmp_path):
    result = hub_cli("new-plugin", "field_notes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    package = tmp_path / "hub-field-notes"  # the default directory
    written = {str(path.relative_to(package)) for path in package.rglob("*") if path.is_file()}
    assert written == {
        "pyproject.toml", "README.md", "tests/conftest.py", "tests/test_field_notes.py",
        *(f"hub_field_notes/{name}" for name in ("__init__.py", "models.py", "schemas.py", "routes.py", "service.py",
                                                 "jobs.py", "functions.py", "settings.py", "migrations/__init__.py",
                                                 "migrations/0001_initial.py")),
    }
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points."hub.plugins"]\nfield_notes = "hub_field_notes"' in pyproject
    assert "hub-field-notes/" in result.stdout and "hub_field_notes/routes.py" in result.stdout

    # Its tests, as its author runs them (`pytest` in the package), on SQLite: never on the
    # suite's own PostgreSQL database, whose schema the kit would drop.
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=package, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "6 passed" in run.stdout, run.stdout[-3000:]


def test_the_generated_tests_can_fail(tmp_path):
    """The generated tests check the plugin: reading an item without the organization's scope
    fails them."""
    assert hub_cli("new-plugin", "broken", "--dir", str(tmp_path / "plugin"), cwd=tmp_path).returncode == 0
    service = tmp_path / "plugin" / "hub_broken" / "service.py"
    scoped = 'await Item.get_for_org(org_id, item_id, "Item")'
    assert scoped in service.read_text()
    service.write_text(service.read_text().replace(scoped, "await Item.get(id=item_id)"))
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "another_organization"],
                         cwd=tmp_path / "plugin", env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "1 failed" in run.stdout, run.stdout[-3000:]


def run_in_process(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    import hub

    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as exited:
        hub.main(args)
    return exited.value.code, capsys.readouterr().err


@pytest.mark.parametrize("name, message", [
    ("Notes", "lowercase letters"),
    ("9lives", "lowercase letters"),
    ("my-plugin", "lowercase letters"),
    ("class", "reserved"),
    ("core", "reserved"),
])
def test_a_bad_name_is_refused(tmp_path, monkeypatch, capsys, name, message):
    status, stderr = run_in_process(["new-plugin", name], tmp_path, monkeypatch, capsys)
    assert status == 2 and message in stderr and stderr.startswith("hub: new-plugin:"), stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_not_overwritten(tmp_path, monkeypatch, capsys):
    target = tmp_path / "hub-notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    status, stderr = run_in_process(["new-plugin", "notes"], tmp_path, monkeypatch, capsys)
    assert status == 2 and "already exists" in stderr
    assert [path.name for path in target.iterdir()] == ["mine.txt"]


def test_the_templates_ship_with_the_package():
    """setuptools package data of the core: the templates are in the installed Hub."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data.get("core.scaffold", [])
    templates = ROOT / "core" / "scaffold" / "templates"
    shipped = {path for pattern in patterns for path in (ROOT / "core" / "scaffold").glob(pattern) if path.is_file()}
    assert shipped and shipped == {path for path in templates.rglob("*") if path.is_file()}
