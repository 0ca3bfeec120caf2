"""Every service follows the alliance registry when the node has one (shared.service runs the watcher beside its
consumer), and /metrics shows it."""

import asyncio
from pathlib import Path

import httpx
import pytest

from services.assessment.app import create_service
from services.assessment.settings import AssessmentSettings
from shared.alliance import registry_in_use
from shared.alliance.commands import main as alliance_command
from shared.alliance.commands import write_atomically
from shared.migrations import upgrade
from shared.service import create_app
from tests.integration.conftest import eventually
from tests.integration.test_metrics import sample

pytestmark = pytest.mark.integration


async def test_a_service_takes_new_registries_refuses_a_tampered_one_and_goes_on_serving(
    stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert alliance_command(["keys", "--dir", "keys"]) == 0
    assert alliance_command(["init", "--id", "t4eu", "--name", "Transform4Europe"]) == 0
    assert alliance_command([
        "add-member", "--institution", "uni-saarland", "--legal-name", "Universität des Saarlandes", "--country", "DE",
        "--node", "saarland", "--node-url", "https://mc.uni-saarland.de", "--kafka-principal", "User:saarland",
        "--did", "did:web:mc.uni-saarland.de:institutions:uni-saarland",
    ]) == 0
    assert alliance_command(["sign", "--key", "keys/alliance-private.pem"]) == 0
    settings = stack.settings(
        AssessmentSettings,
        alliance_registry_url=str(tmp_path / "alliance-registry.json"),
        alliance_public_key_file=str(tmp_path / "keys/alliance-public.pem"),
        alliance_registry_poll_seconds=0.05,
    )
    service = create_service(settings)  # nothing asked of the service: ALLIANCE_REGISTRY_URL is enough
    await asyncio.to_thread(upgrade, service.settings, service.migrations)
    app = create_app(service)

    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:

        async def metric(name: str, wanted: float, **labels: str) -> str | None:
            text = (await client.get("/metrics")).text
            return text if sample(text, name, **labels) == wanted else None

        await eventually(lambda: metric("mc_alliance_registry_serial", 1))
        assert registry_in_use(app.state).is_member("uni-saarland")

        registry = tmp_path / "alliance-registry.json"
        signed = registry.read_bytes()
        write_atomically(registry, signed.replace(b'"DE"', b'"FR"'))  # Edited where it is published, not signed.
        await eventually(lambda: metric("mc_alliance_registry_refused_total", 1, reason="signature"))
        assert (await client.get("/health/ready")).status_code == 200
        assert sample((await client.get("/metrics")).text, "mc_alliance_registry_serial") == 1
        assert app.state.alliance.registry.member("uni-saarland").country == "DE"
        write_atomically(registry, signed)

        assert alliance_command([
            "add-member", "--institution", "uni-silesia", "--legal-name", "University of Silesia", "--country", "PL",
            "--node", "silesia", "--node-url", "https://mc.us.edu.pl", "--kafka-principal", "User:silesia",
            "--did", "did:web:mc.us.edu.pl:institutions:uni-silesia",
        ]) == 0
        assert alliance_command(["sign", "--key", "keys/alliance-private.pem"]) == 0
        await eventually(lambda: metric("mc_alliance_registry_serial", 2))
        assert app.state.alliance.registry.member("uni-silesia").country == "PL"
