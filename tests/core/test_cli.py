"""The command line, run as a user would: `hub ...` and `python hub.py ...` in child
processes, on their own SQLite file (also when the suite runs on PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
HUB_PY = ROOT / "hub.py"
HUB_SCRIPT = Path(sys.executable).parent / "hub"
COMMAND_TIMEOUT = 90
SERVER_START_TIMEOUT = 20


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env.update(
        HUB_DATA_DIR=str(home / "data"),
        HUB_DATABASE_URL=f"sqlite://{home / 'x.sqlite3'}",
        HUB_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def hub(home: Path, *args: str, script: bool = False, **env: str) -> subprocess.CompletedProcess:
    """Run `hub ...` without a terminal (stdin is /dev/null, output captured)."""
    command = [str(HUB_SCRIPT)] if script else [sys.executable, str(HUB_PY)]
    return subprocess.run(
        [*command, *args], cwd=home, env=child_env(home, **env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The failure's stderr, checked to be one `hub...` line without a traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hub"), result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plugin_rows(output: str) -> dict[str, list[str]]:
    lines = output.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "version", "source", "mount"], output
    return {line.split()[0]: line.split() for line in lines[1:]}


# -- hub plugins --------------------------------------------------------------------------------


def test_console_script_is_installed():
    assert HUB_SCRIPT.exists(), HUB_SCRIPT


def test_plugins_lists_core_and_example(home):
    result = hub(home, "plugins", script=True)
    assert result.returncode == 0, result.stderr
    rows = plugin_rows(result.stdout)
    assert rows["core"][1:4] == ["0.1.0", "core", "/"]
    assert rows["example"][1:4] == ["1.2.3", "entry_point", "/"]
    assert "hub_routes," in rows["example"] and "hub_config," in rows["example"]


def test_plugins_via_python_hub_py(home):
    result = hub(home, "plugins")
    assert result.returncode == 0, result.stderr
    assert {"core", "example"} <= set(plugin_rows(result.stdout))


def test_plugins_hides_disabled_plugin(home):
    result = hub(home, "plugins", HUB_DISABLED_PLUGINS="example")
    assert result.returncode == 0, result.stderr
    assert "example" not in plugin_rows(result.stdout)
    assert "core" in plugin_rows(result.stdout)


def test_help_lists_commands(home):
    result = hub(home, "--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "makemigrations", "create-admin", "plugins"):
        assert command in result.stdout


def test_unknown_command_fails(home):
    result = hub(home, "frobnicate")
    assert result.returncode == 2
    assert "frobnicate" in one_line_error(result)


# An unreachable PostgreSQL: a command that touched the database would fail.
NO_DATABASE = "postgres://nobody:secret@127.0.0.1:9/nowhere"


def test_help_and_plugins_need_no_database(home):
    for args in (["--help"], ["plugins"], ["recommender", "train", "--help"]):
        result = hub(home, *args, HUB_DATABASE_URL=NO_DATABASE)
        assert result.returncode == 0, (args, result.stderr)


# -- hub <plugin> <command> (hook hub_commands) ---------------------------------------------------


def test_hook_hub_commands_runs_a_plugin_command_with_the_hub_started(tmp_path):
    result = hub(tmp_path, "example", "notes", "--exit-status", "3", HUB_PLUGINS__EXAMPLE__GREETING="hi there")
    assert result.returncode == 3, result.stderr  # the handler's return value
    assert "hi there: 0 notes (started)" in result.stdout  # its settings, the database, hub_startup


def test_hook_hub_commands_are_listed_in_help(home):
    result = hub(home, "--help")
    assert result.returncode == 0, result.stderr
    words = " ".join(result.stdout.split())  # argparse pads the names to the longest command's
    for line in ("example example plugin: notes", "llm llm plugin: fetch-model",
                 "recommender recommender plugin: train"):
        assert line in words
    notes = hub(home, "example", "notes", "--help")
    assert notes.returncode == 0 and "--exit-status" in notes.stdout and "count the notes" in notes.stdout


@pytest.mark.parametrize(("args", "named"), [
    (["example", "frobnicate"], "frobnicate"),  # unknown command of a plugin
    (["crm", "notes"], "crm"),  # a plugin without commands
    (["example"], "command"),  # no command given
    (["example", "notes", "--exit-status", "many"], "many"),  # a bad argument
])
def test_bad_plugin_command_is_one_line_and_exit_2(home, args, named):
    result = hub(home, *args)
    assert result.returncode == 2, result.stderr
    assert named in one_line_error(result)


def test_plugin_commands_of_a_disabled_plugin_are_gone(home):
    result = hub(home, "example", "notes", HUB_DISABLED_PLUGINS="example")
    assert result.returncode == 2
    assert "example" in one_line_error(result)


# -- hub migrate / create-admin / serve ---------------------------------------------------------


def test_migrate_applies_then_is_idempotent(home):
    first = hub(home, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied core.0001_initial" in first.stdout
    assert "applied example.0001_initial" in first.stdout
    assert "Database is up to date." in first.stdout
    assert (home / "x.sqlite3").exists()

    again = hub(home, "migrate", script=True)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout
    assert "Database is up to date." in again.stdout


def test_rotate_credentials_runs_on_the_configured_database(home):
    result = hub(home, "rotate-credentials", HUB_SECRET_KEY="the current secret of this test hub")
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 0 stored credential(s)" in result.stdout


def test_create_admin_rejects_bad_email(home):
    result = hub(home, "create-admin", "--email", "not-an-email", "--password", PASSWORD)
    assert result.returncode != 0
    assert "email" in one_line_error(result)


def test_create_admin_without_a_terminal_needs_a_password(home):
    result = hub(home, "create-admin", "--email", "nopass@example.com")
    assert result.returncode == 2
    assert "HUB_ADMIN_PASSWORD" in one_line_error(result) and "--password" in result.stderr


def test_create_admin_takes_the_password_from_hub_admin_password(home):
    result = hub(home, "create-admin", "--email", "env-admin@example.com", HUB_ADMIN_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "Created admin env-admin@example.com" in result.stdout


def _terminate(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # our own child's group (start_new_session)
            process.wait(timeout=5)
            pytest.fail("hub serve did not stop on SIGTERM within 15 s")
    return process.returncode


def test_create_admin_then_log_in_against_a_real_server(home):
    email = "cli-admin@example.com"
    created = hub(home, "create-admin", "--email", email, "--password", PASSWORD, "--organization", "CLI Org",
                  script=True)
    assert created.returncode == 0, created.stderr
    assert f"Created admin {email}" in created.stdout

    duplicate = hub(home, "create-admin", "--email", email, "--password", PASSWORD)
    assert duplicate.returncode != 0
    assert "already" in duplicate.stderr.lower()

    port = free_port()
    out, err = (home / "serve.out").open("w"), (home / "serve.err").open("w")
    process = subprocess.Popen(
        [str(HUB_SCRIPT), "serve", "--port", str(port), "--workers", "2"], cwd=home, env=child_env(home),
        stdout=out, stderr=err, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        health = None
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "serve.err").read_text()
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert health is not None and health.status_code == 200, (home / "serve.err").read_text()
        checks = health.json()["checks"]
        # no model in this data dir: the llm is unavailable, the Hub degraded, everything else fine
        assert checks.pop("llm") == "unhealthy" and checks.pop("dependencies") == "unhealthy"
        assert health.json()["status"] == "degraded"
        assert set(checks.values()) == {"healthy"} and "example_notes" in checks
        assert httpx.get(f"{base}/ready", timeout=5).json() == {"ready": True}

        with httpx.Client(base_url=base, timeout=10) as http:
            login = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            body = login.json()
            assert body["user"]["email"] == email and body["user"]["role"] == "admin"
            assert login.headers["X-Request-ID"]

            tenant = http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {body['access_token']}"})
            assert tenant.status_code == 200, tenant.text
            assert tenant.json()["name"] == "CLI Org"

            # several requests, so both workers are likely to answer; all must accept the token
            for _ in range(6):
                me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
                assert me.status_code == 200, me.text

            wrong = http.post("/api/auth/login", json={"email": email, "password": "wrong password!"})
            assert wrong.status_code == 401
            assert set(wrong.json()) == {"error"}
            assert wrong.json()["error"]["request_id"] == wrong.headers["X-Request-ID"]
    finally:
        code = _terminate(process)
        out.close()
        err.close()
    assert "with 2 worker(s)" in (home / "serve.out").read_text()
    assert code in (0, -signal.SIGTERM), (code, (home / "serve.err").read_text())


# -- settings errors stop the command -----------------------------------------------------------


def test_bad_setting_makes_serve_exit_2_naming_the_key(home):
    result = hub(home, "serve", "--port", str(free_port()), script=True, HUB_AUTH__ACCESS_TOKEN_MINUTES="abc")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "auth.access_token_minutes" in result.stderr
    assert "'abc'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "serving" not in result.stdout


def test_port_in_use_is_one_line_and_nothing_is_served(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hub(home, "serve", "--port", str(port), "--workers", "2")
    assert result.returncode == 1, result.stderr
    assert one_line_error(result) == f"hub: cannot start: port {port} on 127.0.0.1 is in use (stop the other server, or use --port)"
    assert "serving" not in result.stdout


def test_bad_database_url_makes_serve_exit_2(home):
    result = hub(home, "serve", "--port", str(free_port()), HUB_DATABASE_URL="mysql://db/hub")
    assert result.returncode == 2, result.stderr
    assert "database_url" in result.stderr


def test_bad_plugin_setting_makes_serve_exit_2(home):
    result = hub(home, "serve", "--port", str(free_port()), HUB_PLUGINS__EXAMPLE__MAX_NOTE_LENGTH="lots")
    assert result.returncode == 2, result.stderr
    assert "plugins.example.max_note_length" in result.stderr


def test_unparsable_config_file_makes_serve_exit_2(home):
    config = home / "broken.toml"
    config.write_text("[auth\naccess_token_minutes = 5\n")
    result = hub(home, "serve", "--port", str(free_port()), HUB_CONFIG=str(config))
    assert result.returncode == 2, result.stderr
    assert "broken.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_stops_migrate_too(home):
    result = hub(home, "migrate", HUB_SERVER__WORKERS="many")
    assert result.returncode == 2, result.stderr
    assert "server.workers" in result.stderr
