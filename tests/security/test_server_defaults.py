"""Defaults for a small box (hardening issue, item 8): as many workers as CPUs when Redis lets
them share state, a bounded accept backlog, and a bound on every request (504 REQUEST_TIMEOUT,
tested in test_connections_and_inputs.py)."""

from __future__ import annotations

import os

from core.kernel.settings import MAX_AUTO_WORKERS, load_settings


def test_workers_default_to_the_cpu_count_with_redis_and_one_without():
    settings = load_settings()
    expected = max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))
    assert settings.server.workers_for("redis://127.0.0.1:6379/0") == expected
    assert settings.server.workers_for(None) == 1
    pinned = load_settings(server={"workers": 3})
    assert pinned.server.workers_for(None) == pinned.server.workers_for("redis://x") == 3


def test_hub_serve_passes_the_backlog_to_hypercorn(tmp_path):
    """`hub serve` in a child process, with hypercorn's run() replaced by a probe of its config
    (serving changes the process's environment: metrics directory, start-up facts)."""
    import json
    import subprocess
    import sys
    import textwrap

    from tests.live_server import ROOT, free_port, hub_environment

    script = textwrap.dedent("""
        import json, sys
        import hypercorn.run
        def probe(config):
            print(json.dumps({"workers": config.workers, "backlog": config.backlog}))
            return 0
        hypercorn.run.run = probe
        import hub
        hub.main(["serve", "--port", sys.argv[1]])
    """)
    env = hub_environment(tmp_path, {"HUB_SERVER__BACKLOG": "64"})
    result = subprocess.run([sys.executable, "-c", script, str(free_port())], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"workers": 0, "backlog": 64}  # one worker (no Redis): served in this process
