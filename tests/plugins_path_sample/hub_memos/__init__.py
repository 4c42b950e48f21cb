"""Memos: a plugin loaded from a `plugins_path` folder (tests/core/test_plugins_path.py and the
one-file binary's smoke test)."""

__version__ = "0.3.0"


def hub_models():
    return ["hub_memos.models"]


def hub_permissions(register):
    register("memos.read", "Read memos", "read")
    register("memos.write", "Write memos", "write")


def hub_routes():
    from hub_memos.routes import bp

    return bp
