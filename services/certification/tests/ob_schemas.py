"""1EdTech's published Open Badges 3.0 JSON Schemas (pinned copies in services/certification/vc/schemas/), for tests:
every credential the node issues must validate against them."""

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "vc" / "schemas"
ACHIEVEMENT_CREDENTIAL = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_CREDENTIAL = "ob_v3p0_endorsementcredential_schema.json"


@cache
def validator(name: str) -> Draft201909Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def schema_problems(credential: Mapping[str, Any]) -> list[str]:
    """Where the credential breaks 1EdTech's schema for its type (an EndorsementCredential's, else an
    AchievementCredential's), and every embedded endorsement its own; empty when it validates."""
    types = credential.get("type", [])
    name = ENDORSEMENT_CREDENTIAL if "EndorsementCredential" in types else ACHIEVEMENT_CREDENTIAL
    problems = [
        f"{name}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator(name).iter_errors(credential)
    ]
    for endorsement in credential.get("endorsement", []):
        problems.extend(schema_problems(endorsement))
    return problems
