import asyncio
import contextlib

import pytest

from tests.stack import Stack, clean_up, start_stack, with_kafka_principals


@pytest.fixture(scope="session")
def stack() -> Stack:
    with contextlib.ExitStack() as resources:  # Containers, where the stack runs in them.
        # The session's Kafka principals are made by the node's own command (deploy.kafka_security), for its prefix.
        started = with_kafka_principals(start_stack(resources))
        yield started
        asyncio.run(clean_up(started))
