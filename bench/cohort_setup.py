"""What the benchmarks that drive a cohort over HTTP do alike (bench/bench_cohort.py, bench/bench_apply.py): their own
prefixes on the running infrastructure, the cohort's learners, the learners' tokens, and wrk sending each learner's
request once."""

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from deploy.journey import Node, bearer_header
from shared.auth import Affiliation, Principal, Role
from tests.stack import Stack, start_stack, with_kafka_principals

BENCH = Path(__file__).resolve().parent
# wrk's load, in every benchmark that drives the node over HTTP (and its bare FastAPI baseline).
WRK_THREADS, WRK_CONNECTIONS = 2, 32
# The learners' preferred languages, in turn (bench/wrk_cohort.lua sends each learner's with their registration).
LANGUAGES = ("en", "de", "fr")


async def private_stack(resources: contextlib.ExitStack, name: str, run_id: str) -> Stack:
    """The infrastructure `deploy/infra.sh` runs, under topic, database and principal prefixes of this run (`name`
    and `run_id`), with the services' principals made; `tests.stack.clean_up` drops them at the end."""
    base = start_stack(resources)
    return await asyncio.to_thread(with_kafka_principals, dataclasses.replace(
        base, topic_prefix=f"{name}-{run_id}.", database_prefix=f"{name.replace('-', '_')}_{run_id}"
    ))


def students(size: int, domain: str) -> list[Principal]:
    """Students of an alliance university (upr), each with their own subject and an email address at `domain`."""
    learners = []
    for number in range(size):
        learner_id = str(uuid.uuid4())
        learners.append(Principal(
            subject=learner_id, name=f"Learner {number}", roles=frozenset({Role.LEARNER}), institution="upr",
            email=f"learner.{number}.{learner_id[:8]}@{domain}", affiliation=frozenset({Affiliation.STUDENT}),
        ))
    return learners


def token_file(node: Node, learners: list[Principal], prefix: str) -> Path:
    """The file bench/wrk_cohort.lua reads: a line per learner, their bearer token and preferred language."""
    tokens = Path(tempfile.mkdtemp(prefix=prefix)) / "learners.tsv"
    private_key = node.auth_key.read_bytes()
    tokens.write_text("".join(
        f"{bearer_header(private_key, learner)['Authorization'].removeprefix('Bearer ')}\t"
        f"{LANGUAGES[number % len(LANGUAGES)]}\n"
        for number, learner in enumerate(learners)
    ))
    return tokens


@dataclasses.dataclass(frozen=True)
class Answered:
    """One wrk run over every learner: how long until each had their answer, and how many were created or refused
    (with the last refusal)."""

    seconds: float
    created: int
    refused: int
    refusal: str


def wrk_learners(
    url: str, tokens: Path, phase: str, offering_id: str, script: str = "wrk_cohort.lua",
    env: Mapping[str, str] | None = None,
) -> Answered:
    """Run `script` (bench/wrk_cohort.lua, or a script built on it) for one phase, `register` or `apply`, until every
    learner's request is answered; its threads each write how it went to <tokens>.<phase>.<thread>.done."""
    for old in tokens.parent.glob(f"{tokens.name}.{phase}.*"):
        old.unlink()
    started = time.perf_counter()
    process = subprocess.Popen(
        ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", "-d600s", "--timeout", "30s",
         "-s", str(BENCH / script), url, "--", str(tokens), phase, offering_id, str(WRK_THREADS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | dict(env or {}),
    )
    markers = [tokens.parent / f"{tokens.name}.{phase}.{number}.done" for number in range(WRK_THREADS)]
    while not all(marker.exists() and marker.read_text().endswith("\n") for marker in markers):
        if process.poll() is not None:
            raise RuntimeError(f"wrk ended early: {process.stdout.read() if process.stdout else ''}")
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    process.send_signal(signal.SIGINT)  # wrk sleeps for its duration; its threads have stopped already.
    process.communicate(timeout=30)
    created = refused = 0
    refusal = ""
    for marker in markers:
        made, failed, last = (marker.read_text().strip().split(" ", 2) + [""])[:3]
        created, refused, refusal = created + int(made), refused + int(failed), refusal or last
    return Answered(seconds, created, refused, refusal)
