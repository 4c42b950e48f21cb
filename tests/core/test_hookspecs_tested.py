"""Every hook in core/hookspecs.py must have a test named test_hook_<hook name>...
(the same guard as Datasette's test_plugin_hooks_have_tests)."""

import re
from pathlib import Path

from core.kernel.hookspecs import all_hook_names

TESTS = Path(__file__).resolve().parent.parent


def test_every_hookspec_has_a_test():
    names = set()
    for path in TESTS.rglob("test_*.py"):
        names |= set(re.findall(r"def (test_hook_\w+)", path.read_text()))
    # one test may cover two hooks: test_hook_a_and_test_hook_b
    covered = {hook for hook in all_hook_names() if any(f"test_hook_{hook}" in name for name in names)}
    missing = sorted(set(all_hook_names()) - covered)
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_the_hook_list_is_what_the_design_names():
    assert {"hub_config", "hub_models", "hub_routes", "hub_permissions", "hub_on_event", "hub_functions",
            "hub_health_checks", "hub_startup", "hub_shutdown"} <= set(all_hook_names())
