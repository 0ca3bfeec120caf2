import asyncio
import contextlib

import pytest

from tests.stack import Stack, clean_up, start_stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    with contextlib.ExitStack() as resources:  # Containers, where the stack runs in them.
        started = start_stack(resources)
        yield started
        asyncio.run(clean_up(started))
