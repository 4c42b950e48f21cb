"""The SDK's generated models (sdk/python/hub_sdk/models.py) are those of the server's current
OpenAPI document: regenerated into a temporary directory, they must equal the committed ones."""

from __future__ import annotations

import ast
import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "sdk" / "python" / "hub_sdk" / "models.py"
COMMAND = ".venv/bin/python scripts/generate_sdk.py"


def test_the_committed_models_match_the_current_openapi(tmp_path):
    fresh = tmp_path / "models.py"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_sdk.py"), "--output", str(fresh)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    committed, regenerated = COMMITTED.read_text(), fresh.read_text()
    # compared as code (the formatter's version may lay it out differently), shown as text
    if ast.dump(ast.parse(committed)) != ast.dump(ast.parse(regenerated)):
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), regenerated.splitlines(True),
                                                 "committed", "from the current OpenAPI", n=1))[:80])
        raise AssertionError(f"sdk/python/hub_sdk/models.py is out of date with the Hub's OpenAPI: run `{COMMAND}` "
                             f"and commit the result.\n{diff}")


def test_the_generated_models_parse_the_api_in_its_own_names():
    """The models take the API's camelCase names and give snake_case attributes."""
    from hub_sdk import models

    lead = models.LeadOut.model_validate({
        "id": "1", "name": "Ann", "email": None, "phone": None, "company": None, "companyId": None,
        "status": "new", "source": "api", "value": 0, "notes": None,
        "createdAt": "2024-01-15T16:40:00Z", "updatedAt": "2024-01-15T16:40:00Z", "someday": "a new field"})
    assert lead.company_id is None and lead.created_at == "2024-01-15T16:40:00Z"
    assert lead.model_extra == {"someday": "a new field"}  # a field added later does not break older clients
