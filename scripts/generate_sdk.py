"""Regenerate the Python SDK's typed models (sdk/python/hub_sdk/models.py) from the Hub's
OpenAPI document.

    .venv/bin/python scripts/generate_sdk.py                    # rewrite the committed models
    .venv/bin/python scripts/generate_sdk.py --output X.py      # write them elsewhere (the freshness test)
    .venv/bin/python scripts/generate_sdk.py --spec spec.json   # also keep the OpenAPI document

The document comes from an app built in this process (no server, no database): the core and the
built-in plugins with the default configuration (config/hub.toml), third-party plugins left out
(`plugins.entry_points = false`), so the result does not depend on what else is installed. The
models are written by datamodel-code-generator (pydantic v2, one module); the hand-written layer
(hub_sdk/client.py, resources.py) uses them. tests/sdk/test_generated.py fails when the committed
module differs from what this script writes for the current code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "sdk" / "python" / "hub_sdk" / "models.py"
HEADER = '''"""Typed models of the Hub's API, GENERATED from its /openapi.json by datamodel-code-generator:
do not edit; run `python scripts/generate_sdk.py` after changing a route or a schema."""

'''
GENERATOR_OPTIONS = [
    "--input-file-type", "openapi",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.11",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-double-quotes",
    "--snake-case-field",
    "--allow-population-by-field-name",
    "--collapse-root-models",
    "--enum-field-as-literal", "all",
    "--use-schema-description",
    "--extra-fields", "allow",  # a field the Hub adds later must not break an older client
    "--formatters", "ruff-format",  # black (the default) takes 4x longer
    "--disable-timestamp",
    "--disable-appending-item-suffix",
    "--custom-file-header", HEADER.rstrip("\n"),
]


def openapi_document() -> dict:
    """/openapi.json of the core and the built-in plugins, from an app built in this process."""
    sys.path.insert(0, str(ROOT))
    for name in [name for name in os.environ if name.startswith("HUB_")]:
        del os.environ[name]  # the machine's settings must not change the document
    os.environ["HUB_PLUGINS__ENTRY_POINTS"] = "false"
    logging_off()
    from core.app import create_app
    from core.kernel.settings import load_settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(env="test", data_dir=Path(data_dir), database_url=f"sqlite://{data_dir}/unused.sqlite3",
                                 secret_key="generate-sdk-" + "x" * 40)
        app = create_app(settings)

        async def fetch() -> dict:
            async with app.app_context():
                return app.extensions["QUART_SCHEMA"].openapi_provider.schema()

        return json.loads(json.dumps(asyncio.run(fetch()), default=str))


def logging_off() -> None:
    import logging

    logging.disable(logging.WARNING)


def hoist_inline_schemas(spec: dict) -> dict:
    """quart-schema writes each route's request and response model inline in the operation; move
    each one (by its title: `LeadList`, `LeadCreate`, ...) to `components/schemas` and refer to it,
    so the generator writes one class per model, named as in the Hub, rather than one per use.
    Two different models of one title get the owning plugin's tag in front (`WorkflowsExecuteRequest`)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})

    def named(schema: dict, tag: str) -> dict:
        title = schema.get("title")
        if "$ref" in schema or schema.get("type") != "object" or not isinstance(title, str) or not title.isidentifier():
            return schema
        candidates = [title, "".join(part.capitalize() for part in tag.replace("-", "_").split("_")) + title]
        candidates += [f"{candidates[1]}{n}" for n in range(2, 100)]
        for name in candidates:
            if name not in schemas:
                schemas[name] = schema
            if schemas[name] == schema:
                return {"$ref": f"#/components/schemas/{name}"}
        raise RuntimeError(f"too many different schemas titled {title!r}")

    for path in sorted(spec.get("paths", {})):
        for method, operation in sorted(spec["paths"][path].items()):
            if not isinstance(operation, dict):
                continue
            tag = (operation.get("tags") or ["api"])[0]
            bodies = [operation.get("requestBody") or {}, *(operation.get("responses") or {}).values()]
            for body in bodies:
                for media in (body.get("content") or {}).values():
                    if isinstance(media.get("schema"), dict):
                        media["schema"] = named(media["schema"], tag)
    _drop_field_titles(spec)
    # the same classes in the same order on every run (the document's maps are not ordered)
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    spec["paths"] = {path: dict(sorted(spec["paths"][path].items())) for path in sorted(spec["paths"])}
    return spec


def _drop_field_titles(node) -> None:
    """pydantic titles every field after its name ("Companyid"): noise in the generated code."""
    if isinstance(node, dict):
        for schema in (node.get("properties") or {}).values():
            if isinstance(schema, dict):
                schema.pop("title", None)
        for value in node.values():
            _drop_field_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_field_titles(value)


def generate(spec: dict, output: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "openapi.json"
        source.write_text(json.dumps(spec))
        command = [sys.executable, "-m", "datamodel_code_generator", "--input", str(source),
                   "--output", str(output), *GENERATOR_OPTIONS]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"generate_sdk: datamodel-code-generator failed:\n{result.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=MODELS, help=f"default {MODELS.relative_to(ROOT)}")
    parser.add_argument("--spec", type=Path, help="also write the OpenAPI document here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    spec = openapi_document()
    if args.spec:
        args.spec.write_text(json.dumps(spec, indent=1, sort_keys=True))
    fetched = time.monotonic()
    generate(hoist_inline_schemas(spec), args.output)
    print(f"wrote {args.output} from {len(spec.get('paths', {}))} paths and "
          f"{len(spec.get('components', {}).get('schemas', {}))} schemas "
          f"(document {fetched - started:.1f} s, models {time.monotonic() - fetched:.1f} s)")


if __name__ == "__main__":
    main()
