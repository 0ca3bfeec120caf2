"""The web front end in the end-to-end tests: Keycloak (the real OIDC provider, `deploy/keycloak.sh`), a node whose
services take its users' tokens, the front end as its own process, and the browser journeys in tools/browser."""

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.journey import Node
from deploy.keycloak_realm import WEB_CLIENT_SECRET
from tests.e2e.conftest import running_node, wait_ready
from tests.stack import ROOT, Stack, free_port, with_kafka_principals

SCREENSHOTS = ROOT / ".run" / "screenshots"


def keycloak_issuer() -> str:
    """Keycloak running with the demo realm (started, or found running: `deploy/keycloak.sh start` is idempotent)."""
    subprocess.run(["bash", str(ROOT / "deploy" / "keycloak.sh"), "start"], cwd=ROOT, check=True)
    url = subprocess.run(["bash", str(ROOT / "deploy" / "keycloak.sh"), "url"], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return url.stdout.strip()


@dataclass(frozen=True)
class FrontEnd:
    url: str
    node: Node
    issuer: str


def front_end_stack(stack: Stack, name: str = "web") -> Stack:
    """The topics and databases of a front end's node (running_front_end's `name`)."""
    return dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}{name}.",
                               database_prefix=f"{stack.database_prefix}_{name}")


@contextlib.contextmanager
def running_front_end(stack: Stack, keys: Path, issuer: str, name: str = "web", **settings: str) -> Iterator[FrontEnd]:
    """A node of its own (prefixes `<name>.`) whose services take the realm's tokens, and the front end before it;
    `settings` are extra environment variables of the node's services."""
    web_stack = with_kafka_principals(front_end_stack(stack, name))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = {"VERIFY_PAGE_URL": f"{url}/verify", "AUTH_OIDC_ISSUERS": issuer} | settings
    with running_node(web_stack, keys, log_prefix="web", **extra) as node:
        env = os.environ | web_stack.env() | {
            "HTTP_PORT": str(port),
            "PUBLIC_URL": url,
            **{f"{name.upper()}_URL": node.urls[name] for name in ("catalogue", "enrolment", "assessment", "certification", "notifications")},
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENT_SECRET": WEB_CLIENT_SECRET,
            # A busy test machine: certification's first verification (its workers starting) has taken 14 s.
            "SERVICE_TIMEOUT_SECONDS": "60",
        }
        command = [sys.executable, "-m", "services.web", "serve"]
        log = ROOT / ".run" / "logs" / "web-front-end.log"
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            wait_ready(url, process, str(log))
            yield FrontEnd(url=url, node=node, issuer=issuer)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def browse(script: str, front_end: FrontEnd, timeout: float = 300, **config: Any) -> list[dict[str, Any]]:
    """Runs a journey of tools/browser in Chromium; the steps it reports, in order. A failed journey fails here with
    what it printed."""
    settings = {"base": front_end.url, "screenshots": str(SCREENSHOTS)} | config
    finished = subprocess.run(
        ["node", str(ROOT / "tools" / "browser" / script), json.dumps(settings)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    steps = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    assert finished.returncode == 0, f"{script} failed:\n{finished.stdout}\n{finished.stderr}"
    return steps


def step(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [s for s in steps if s["step"] == name]
    assert found, f"no step {name!r} in {[s['step'] for s in steps]}"
    return found[-1]


def serious_violations(steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """axe-core's serious and critical findings, by page (pages with none left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        if s["step"] == "axe":
            bad = [v for v in s["violations"] if v["impact"] in ("serious", "critical")]
            if bad:
                found[s["page"]] = bad
    return found
