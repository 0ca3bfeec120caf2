"""Two instances of certification take status list indexes at the same time without waiting for each other, and
never the same one (services/certification/status_indexes.py)."""

import asyncio
from pathlib import Path

import pytest

from services.certification.settings import CertificationSettings
from services.certification.status_indexes import RESERVE, StatusIndexes
from services.certification.status_lists import ListFull
from shared.db import create_engine
from shared.migrations import upgrade

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "certification" / "migrations"


async def test_two_instances_take_random_indexes_and_never_the_same(stack):
    settings = stack.settings(CertificationSettings)
    await asyncio.to_thread(upgrade, settings, MIGRATIONS)
    engine = create_engine(settings)
    first, second = StatusIndexes(), StatusIndexes()
    try:
        length = 131072
        taken = await asyncio.gather(
            *(instance.take(engine, "uni-parallel", length) for _ in range(600) for instance in (first, second))
        )
        assert len(set(taken)) == len(taken) == 1200, "an index given twice"
        assert all(0 <= index < length for index in taken)
        # Random, not sequential: the first ones handed out are spread over the list.
        assert max(taken[:20]) - min(taken[:20]) > length // 4

        small = 2 * RESERVE
        indexes = [await first.take(engine, "uni-small", small) for _ in range(RESERVE)]
        indexes += [await second.take(engine, "uni-small", small) for _ in range(RESERVE)]
        assert sorted(indexes) == list(range(small)), "every index of a small list, each once"
        with pytest.raises(ListFull):
            await first.take(engine, "uni-small", small)
    finally:
        await engine.dispose()
