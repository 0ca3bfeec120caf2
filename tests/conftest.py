import asyncio

import pytest

from tests.stack import Stack, clean_up, start_stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    started = start_stack()
    yield started
    asyncio.run(clean_up(started))
