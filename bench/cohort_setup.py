"""What the benchmarks that drive a cohort over HTTP set up alike (bench/bench_cohort.py, bench/bench_apply.py): their
own prefixes on the running infrastructure, the cohort's learners, and the learners' tokens for wrk."""

import asyncio
import contextlib
import dataclasses
import tempfile
import uuid
from pathlib import Path

from deploy.journey import Node, bearer_header
from shared.auth import Affiliation, Principal, Role
from tests.stack import Stack, start_stack, with_kafka_principals

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
