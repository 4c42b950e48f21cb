#!/usr/bin/env bash
# Set up the virtualenv (first run) and run the whole test suite.
#   scripts/test.sh                      embedded defaults: SQLite, in-process memory
#   HUB_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
#   HUB_TEST_REDIS_URL=redis://127.0.0.1:6379/0 scripts/test.sh     PostgreSQL + Redis
# Extra arguments go to pytest (e.g. scripts/test.sh -k auth -x).
# HUB_TEST_SKIP_INSTALL=1 skips the install step (.ci/run installs once, then runs two suites).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HUB_TEST_SKIP_INSTALL:-}" ]; then
    if [ ! -x .venv/bin/python ]; then
        "${PYTHON:-python3}" -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --upgrade pip
    # The example third-party plugin is installed like any outside plugin: through its entry point.
    # The Python SDK (sdk/python) too: tests/sdk drive it against a live `hub serve`.
    .venv/bin/python -m pip install --quiet -e '.[llm,test]' -e tests/example_plugin -e sdk/python
fi
exec .venv/bin/python -m pytest "$@"
