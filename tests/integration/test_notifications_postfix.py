"""The mailer against Postfix, with Postfix's own defaults: the pipelined exchanges (MAIL, RCPT and BDAT in one write
with CHUNKING; MAIL, RCPT and DATA without it; one command at a time without PIPELINING) were written against the
project's own sink, and a university's relay is more likely Postfix. What the sink and the mailer might agree on
wrongly between themselves shows here: every email stored as sent, one write each with CHUNKING, refusals read as
the relay meant them, and the connection going on after one."""

import re
from collections.abc import Iterator

import pytest

from services.notifications.mailer import is_permanent
from services.notifications.tests.test_mailer import GONE, as_stored, emails, refused_then_kept, send_each
from services.notifications.worker import describe
from tests.postfix import TRACE_HEADERS, Postfix, as_relayed
from tests.tcp_hop import Hop

pytestmark = pytest.mark.integration

# Each listener by the ESMTP keywords it hides from EHLO's reply: Postfix offers both by default.
HIDDEN = {"everything": (), "no CHUNKING": ("chunking",), "no PIPELINING": ("pipelining", "chunking")}


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    server = Postfix(HIDDEN, refused=[GONE])
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def relay(postfix: Postfix) -> Iterator[Postfix]:
    """The same Postfix for each test, its Maildir emptied."""
    yield postfix
    for folder in ("new", "cur", "tmp"):
        for file in (postfix.maildir / folder).glob("*"):
            file.unlink()


@pytest.mark.parametrize(
    ("listener", "writes_per_email"), [("everything", 1), ("no CHUNKING", 2), ("no PIPELINING", 4)]
)
async def test_emails_relayed_by_postfix_arrive_as_sent_in_as_few_writes_as_it_allows(
    relay: Postfix, listener: str, writes_per_email: int
) -> None:
    """Leading dots, a bare line feed, a last line without its end, UTF-8 in headers and in an address: Postfix stores
    each message as the mailer meant it, behind its own trace headers."""
    sent = emails()
    async with Hop(relay.ports[listener]) as hop:
        writes = await send_each(hop, sent)

    assert hop.connections == 1, "one connection kept for all three"
    assert writes == 1 + writes_per_email * len(sent), "EHLO, then each email's writes"
    delivered = relay.delivered(len(sent))
    assert set(delivered) == {message.recipient for message in sent}, relay.log()
    for message in sent:
        trace, received = as_relayed(delivered[message.recipient])
        assert received == as_stored(message), "the message as sent, nothing added, removed or changed"
        assert {line.split(b":")[0] + b":" for line in trace} == set(TRACE_HEADERS)


@pytest.mark.parametrize("listener", ["everything", "no CHUNKING"], ids=["BDAT", "DATA"])
async def test_a_recipient_postfix_refuses_is_a_permanent_failure_and_the_connection_carries_the_next_email(
    relay: Postfix, listener: str
) -> None:
    """With BDAT, the refused transaction's message went with its commands: Postfix reads the chunk and refuses it, and
    takes the next command as a command, not as part of the message."""
    ada = emails()[1]
    async with Hop(relay.ports[listener]) as hop:
        refused, kept, some_refused = await refused_then_kept(hop, ada)

    assert is_permanent(refused)
    assert describe(refused) == (
        "550 5.1.1 <gone@example.eu>: Recipient address rejected: Mailbox unavailable"
    ), "the recipient's refusal, not the one of the message after it"
    assert kept[0] == {} and re.fullmatch(r"2\.0\.0 Ok: (\d+ bytes )?queued as \w+", kept[1]), kept
    assert some_refused[0] == {
        "gone@example.eu": (550, "5.1.1 <gone@example.eu>: Recipient address rejected: Mailbox unavailable")
    }
    delivered = relay.delivered(2)
    assert set(delivered) == {"ada@example.eu", "bob@example.eu"}, relay.log()
    assert as_relayed(delivered["bob@example.eu"])[1] == as_stored(ada)
