"""The conformance kit as a partner runs it (`python -m conformance --node node.json`): it passes against this project's
node, and fails against a node whose assessment service is replaced by a stub that publishes a non-conforming
GradeRecorded (tests/e2e/broken_assessment.py), naming the checks that fail and why.

Each test starts its node under a topic and database prefix of its own, with its own Kafka principals and an auditor
for the kit, so that no other test's events or dead letters reach the kit's report."""

import contextlib
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from deploy.journey import NODE_LMS, Node
from deploy.kafka_security import auditor_principal, lms_principal
from tests.e2e.conftest import ISSUING_INSTITUTIONS, issuer_keys, running_node
from tests.stack import ROOT, Stack, kafka_security, with_kafka_principals

pytestmark = pytest.mark.e2e

# Generated requests per HTTP operation (on top of schemathesis's boundary cases): enough to find an undocumented
# answer, few enough for the suite.
API_EXAMPLES = "3"
BROKEN_ASSESSMENT = "tests.e2e.broken_assessment"
GRADE_RECORDED = "eu.microcredentials.assessment.grade.recorded.v1"


@contextlib.contextmanager
def described_node(
    stack: Stack, folder: Path, name: str, replaced: Mapping[str, str] | None = None
) -> Iterator[tuple[Node, Path]]:
    """A node of its own under `stack` (prefix `<session>.<name>.`), and the description its operator gives the kit."""
    own = with_kafka_principals(
        dataclasses.replace(
            stack, topic_prefix=f"{stack.topic_prefix}{name}.", database_prefix=f"{stack.database_prefix}_{name}"
        )
    )
    assert own.kafka_credentials is not None
    kafka_security(own, "auditor", "add", "conformance", "--dir", str(own.kafka_credentials))
    with running_node(own, issuer_keys(folder / "keys"), log_prefix=f"conformance-{name}", replaced=replaced) as node:
        institution = "uni-saarland"
        country_name, country = ISSUING_INSTITUTIONS[institution]
        description = {
            "source": own.node_uri,
            "services": node.urls,
            "kafka": {
                "topic_prefix": own.topic_prefix,
                "auditor": {"properties": f"kafka/{auditor_principal('conformance', own.topic_prefix)}.properties"},
                "lms": {"id": NODE_LMS.id, "properties": f"kafka/{lms_principal(NODE_LMS.id, own.topic_prefix)}.properties"},
            },
            "institution": {"id": institution, "name": country_name, "country": country},
            "tokens": {"signing_key": str(own.auth_private_key)},
        }
        # Beside the credentials folder, so that the relative paths above are taken from it, as for a partner's file.
        path = own.kafka_credentials.parent / "node.json"
        path.write_text(json.dumps(description, indent=2))
        yield node, path


def conformance(description: Path, *options: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`python -m conformance --node <file> --json`: its exit code, its results by check, and all it printed."""
    command = [sys.executable, "-m", "conformance", "--node", str(description), "--api-examples", API_EXAMPLES, "--json"]
    finished = subprocess.run([*command, *options], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = finished.stdout + finished.stderr
    try:
        report = json.loads(finished.stdout)
    except ValueError:
        pytest.fail(f"the kit printed no JSON report (exit {finished.returncode}):\n{output}")
    return finished.returncode, {result["name"]: result for result in report["results"]}, output


def test_the_kit_passes_against_the_projects_node(stack: Stack, tmp_path: Path):
    with described_node(stack, tmp_path, "conforming") as (_, description):
        code, results, output = conformance(description)
    statuses = {name: result["status"] for name, result in results.items()}
    # Joint courses (issue #12 item 1) are not built, and the kit does not drive the endorsement exchange (item 2) yet:
    # it says so rather than passing them.
    not_built = {"joint-course", "endorsement"}
    assert statuses == {name: "not applicable" if name in not_built else "pass" for name in statuses}, output
    assert code == 0, output
    assert {"kafka-access", "journey", "duplicate-grade", "dead-letter", "credential", "status-lists", "did-documents",
            "http-apis", "published-events", "no-stray-dead-letters"} <= set(statuses)
    # The report shows what was sent and what came back: here, the grade the LMS sent and the event it led to.
    journey = results["journey"]["exchanges"]
    assert any(e["sent"].startswith("Kafka: produce onto") and "stored at" in e["received"] for e in journey), output
    assert any(GRADE_RECORDED in e["received"] for e in journey), output


def test_the_kit_fails_against_a_node_that_publishes_a_non_conforming_event(stack: Stack, tmp_path: Path):
    with described_node(stack, tmp_path, "broken", replaced={"assessment": BROKEN_ASSESSMENT}) as (_, description):
        # Short waits: the broken node never publishes some of what the checks wait for.
        code, results, output = conformance(description, "--timeout", "20")
    assert code == 1, output
    # The flaw itself: which event, where, and the rule of the published contract it breaks.
    published = results["published-events"]
    assert published["status"] == "fail", output
    # Only the stub's events are faulted (the four real services' conform), each one for lacking `passed`.
    reasons = published["reasons"]
    assert reasons and all(GRADE_RECORDED in r and "mc.assessment.grades[" in r for r in reasons), output
    assert any("data: 'passed' is a required property (the type's JSON Schema)" in r for r in reasons), output
    # What a learner would notice: no passing grade recorded, hence no credential to check.
    assert results["journey"]["status"] == "fail", output
    assert any(f"published no {GRADE_RECORDED}" in reason for reason in results["journey"]["reasons"]), output
    assert results["credential"]["status"] == "skipped", output
    # The stub drops a message that is not JSON instead of putting it aside with the reason.
    assert results["dead-letter"]["status"] == "fail", output
    assert any("was not put on any dead-letter topic" in r for r in results["dead-letter"]["reasons"]), output
