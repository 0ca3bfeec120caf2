"""Schemathesis against every service of the running node, anonymous and with a token of each role: whatever it sends
(huge numbers, NUL characters, broken bodies, the boundaries of every parameter, unexpected methods), no answer is a
server error.

This is `st run <service>/openapi.json --checks not_a_server_error`, as an operator would type it, with a bounded number
of generated cases per operation (FUZZ_EXAMPLES, on top of the coverage phase's boundary cases) so that the suite
stays short. A failure shows schemathesis's report: each failing case with its curl command, and the seed. The event
stream is asked with `follow=false` (send what is there, then close), so that no case waits for it forever.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.journey import Node, bearer_header
from shared.auth import Principal, Role
from tests.stack import ROOT

pytestmark = pytest.mark.e2e

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications")
IDENTITIES = ("anonymous", *(role.value for role in Role))
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "10")
# No answer may take longer than this: a route that hangs fails like one that breaks.
REQUEST_TIMEOUT_SECONDS = 30
SCHEMATHESIS = Path(sys.executable).with_name("st")
CONFIG = """
# Every operation with a `follow` query parameter (the dashboards' event stream) is asked to end.
[parameters]
"query.follow" = false

# The curl commands show the test's tokens and the query's `token` as sent: a case must be reproducible as printed.
[output.sanitization]
enabled = false
"""


def authorization(node: Node, identity: str) -> list[str]:
    """The -H option with the token of someone with this role at the node's university; nothing when anonymous."""
    if identity == "anonymous":
        return []
    principal = Principal(
        subject=f"fuzz-{identity}",
        name=f"Fuzz {identity}",
        email=f"fuzz-{identity}@uni-saarland.example",
        roles=frozenset({Role(identity)}),
        institution="uni-saarland",
    )
    return ["-H", "Authorization: {Authorization}".format(**bearer_header(node.auth_key.read_bytes(), principal))]


def report(output: str) -> str:
    """What schemathesis found: from its FAILURES or ERRORS section to the end (curl commands, seed, summary)."""
    starts = [output.find(f"= {section} =") for section in ("ERRORS", "FAILURES")]
    found = [start for start in starts if start >= 0]
    start = output.rfind("\n", 0, min(found)) if found else 0
    return output[start:]


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("service", SERVICES)
def test_no_input_makes_a_server_error(node: Node, service: str, identity: str, tmp_path: Path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "--no-color",
        "run", f"{node.urls[service]}/openapi.json",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", EXAMPLES,
        "--workers", "1",
        "--request-timeout", str(REQUEST_TIMEOUT_SECONDS),
        *authorization(node, identity),
    ]  # fmt: skip
    # Run from the repository: schemathesis keeps failing cases in .schemathesis/ and replays them first next time.
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{service}, {identity}:\n{report(result.stdout)}\n{result.stderr}"
