"""Other nodes that rely on credentials this node issued: a learner presented one there as a part of a programme,
and that node said so (RelianceDeclared). When the credential is revoked here, each node relying on it, and only those,
is told (PartRevoked); the relying node then reads this node's status list again (presented_parts.py).

What the issuer's node learns is only that some node relies on one of its credentials, which the learner chose to
present there; nothing of the programme's learner travels but the credential's id, which the issuer knows already.
"""

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.certification.models import Credential, Reliance
from shared.consumer import Unprocessable
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent, Topic
from shared.events.alliance import RelianceDeclared, PartRevoked

log = logging.getLogger(__name__)


def own_credential_id(credential_url: str, public_url: str) -> str | None:
    """This node's credential id behind the URL its credentials are signed with (`<PUBLIC_URL>/credentials/<id>`)."""
    prefix = f"{public_url.rstrip('/')}/credentials/"
    credential_id = credential_url.removeprefix(prefix)
    return credential_id if credential_url.startswith(prefix) and credential_id and "/" not in credential_id else None


async def part_relied_on(event: RelianceDeclared, envelope: CloudEvent, uow: UnitOfWork, *, public_url: str) -> None:
    """Keep who relies on which credential; a credential revoked already is said to be at once."""
    credential_id = own_credential_id(event.credential_id, public_url)
    # Locked as a revocation locks it: a revocation committing meanwhile is seen here, or sees this reliance
    # (otherwise neither would tell the relying node, and only its hourly re-check would find out).
    credential = await uow.session.get(Credential, credential_id, with_for_update=True) if credential_id else None
    if credential is None or credential.issuer_institution != event.institution:
        raise Unprocessable(f"node {event.sender} relies on {event.credential_id} of {event.institution}, which this "
                            "node did not issue")
    await uow.session.execute(
        insert(Reliance)
        .values(credential_id=credential.id, node=event.sender, own_node=event.recipient, relied_on_at=utcnow())
        .on_conflict_do_nothing()
    )
    if credential.revoked_at is not None:
        _tell(uow, event.recipient, event.sender, event.credential_id, credential)


async def tell_relying_nodes(uow: UnitOfWork, credential_url: str, credential: Credential) -> None:
    """The credential was revoked (in this unit of work): tell each node that relies on it."""
    relying = await uow.session.exec(select(Reliance).where(Reliance.credential_id == credential.id))
    for reliance in relying.all():
        _tell(uow, reliance.own_node, reliance.node, credential_url, credential)


def _tell(uow: UnitOfWork, sender: str, recipient: str, credential_url: str, credential: Credential) -> None:
    assert credential.revoked_at is not None
    log.info("telling node %s that credential %s, which it relies on, was revoked", recipient, credential.id)
    uow.publish(
        PartRevoked(
            sender=sender, recipient=recipient, credential_id=credential_url,
            institution=credential.issuer_institution, revoked_at=credential.revoked_at,
        ),
        topic=Topic.ALLIANCE_OUTGOING,
    )
