"""The kit as a partner node of the node under test, for the exchanges between nodes (issue #12): a node of the alliance
registry hosting one member institution, on the alliance bus as that node's principal.

It reads what the node under test addresses to it (`alliance.<node under test>.to.<kit>`) from the moment it starts,
answers on `alliance.<kit>.to.<node under test>` under its own `event_source`, signs its institution's endorsements
with its own key, and serves that institution's DID document at its base URL (where the registry says its node is), so
that the node under test can check the endorsement's proof as it would any partner's.
"""

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.description import Alliance, NodeDescription
from conformance.kafka import EventLog, Producer
from services.certification.signing_keys import did_document
from services.certification.vc.credential import IssuerProfile
from services.certification.vc.endorsement import endorsement_credential
from services.certification.vc.keys import did_web_location, load_private_key
from shared.events import CloudEvent
from shared.events.alliance import AddressedMessage
from shared.events.topics import addressed_topic

# The kit reads no dead-letter topic on the bus (a pattern that matches none).
NO_TOPIC = r"(?!)"
KEY_ID = "key-1"


class Partner:
    def __init__(self, description: NodeDescription) -> None:
        assert description.alliance is not None
        self.alliance: Alliance = description.alliance
        settings = description.kafka_settings(self.alliance.bus.principal, self.alliance.bus)
        node, kit = self.alliance.node_under_test, self.alliance.node
        self.inbox = EventLog(settings, [addressed_topic(node, kit)], NO_TOPIC)
        self.inbox_topic = addressed_topic(node, kit, settings.topic_prefix)
        self.outbox = Producer(settings, addressed_topic(kit, node, settings.topic_prefix))
        self._key = load_private_key(self.alliance.signing_key)
        self.verification_method = f"{self.alliance.did}#{KEY_ID}"
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def institution(self) -> str:
        return self.alliance.institution.id

    def did_document(self) -> dict[str, Any]:
        return did_document(self.alliance.did, self._key.public_key())

    def did_document_url(self) -> str:
        _, path = did_web_location(self.alliance.did)
        return self.alliance.base_url.rstrip("/") + path

    async def start(self) -> None:
        """Serve the DID document, then read the inbox from its end and connect the outbox."""
        _, path = did_web_location(self.alliance.did)
        document = self.did_document()
        app = Starlette(routes=[Route(path, lambda _: JSONResponse(document, media_type="application/did+json"))])
        host, port = _listen(self.alliance)
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # The server could not start (the port taken, say): say why.
                raise RuntimeError(f"the kit's HTTP server did not start on {host}:{port}")
            await asyncio.sleep(0.05)
        await self.inbox.start()
        await self.outbox.start()

    async def stop(self) -> None:
        await asyncio.gather(self.inbox.stop(), self.outbox.stop(), return_exceptions=True)
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving

    async def send(self, message: AddressedMessage, envelope: CloudEvent | None = None) -> tuple[CloudEvent, str]:
        """The message as the kit's node sends it (a new CloudEvent, or `envelope` again); where the broker put it."""
        envelope = envelope or CloudEvent.wrap(message, source=self.alliance.event_source)
        return envelope, await self.outbox.send(message.key, envelope.to_bytes())

    def endorsement(self, credential_id: str, lead_name: str) -> dict[str, Any]:
        """The kit's institution's EndorsementCredential of a credential, signed with the kit's key."""
        institution = self.alliance.institution
        profile = IssuerProfile(id=self.alliance.did, name=institution.name, country=institution.country)
        return endorsement_credential(
            credential_id, profile, f"{institution.name} co-awards this micro-credential with {lead_name}.",
            private_key=self._key, verification_method=self.verification_method,
        )


def _listen(alliance: Alliance) -> tuple[str, int]:
    if alliance.listen:
        host, port = alliance.listen.rsplit(":", 1)
        return host, int(port)
    url = urlsplit(alliance.base_url)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)
