"""Opting out on the real stack: a learner who opted out gets no optional email but still their credential's; the
unsubscribe link of an email works without logging in; the List-Unsubscribe header carries it."""

import re
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest

from services.notifications.app import create_service
from shared.auth import Role
from shared.events.enrolment import LearnerWaitlisted
from tests.integration.conftest import eventually, running
from tests.integration.test_notifications_delivery import (
    all_sent,
    credential_issued,
    deliveries,
    learner,
    publish,
    settings_for,
    node_admin,  # noqa: F401 (fixtures)
    sink,  # noqa: F401
)

pytestmark = pytest.mark.integration


def waitlisted(who, position: int = 2) -> LearnerWaitlisted:
    return LearnerWaitlisted(
        enrolment_id=f"application-{who.learner_id}-{position}",
        course_id="course-data-literacy",
        course_version=1,
        course_title="Data Literacy",
        offering_id="offering-1",
        learner=who,
        position=position,
        waitlisted_at=datetime.now(UTC),
    )


async def test_an_opted_out_learner_gets_only_the_emails_they_cannot_opt_out_of(stack, sink):
    await sink.start()
    who = learner("Opting Out", language="fr")
    headers = stack.bearer(who.learner_id, Role.LEARNER)
    async with running(create_service(settings_for(stack, sink))) as client:
        assert (await client.get("/preferences", headers=headers)).json()["optional_emails"] is True
        response = await client.post("/preferences", json={"optional_emails": False}, headers=headers)
        assert response.status_code == 200 and response.json() == {"learner_id": who.learner_id, "optional_emails": False}
        assert (await client.post("/preferences", json={"optional_emails": False})).status_code == 401

        await publish(stack, waitlisted(who))
        await publish(stack, credential_issued(who))
        await eventually(lambda: all_sent(client, [who.email]))

    [email] = sink.emails_to(who.email)
    assert "délivrée" in email["Subject"], "the credential's email only, in French"
    assert email["List-Unsubscribe"] is None


async def test_the_unsubscribe_link_in_an_email_opts_the_learner_out(stack, sink):
    await sink.start()
    who = learner("Link Clicker")
    async with running(create_service(settings_for(stack, sink))) as client:
        await publish(stack, waitlisted(who, position=1))
        await eventually(lambda: all_sent(client, [who.email]))
        [email] = sink.emails_to(who.email)
        header = email["List-Unsubscribe"].strip()
        link = header.strip("<>")
        assert link in email.get_body(("plain",)).get_content()
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        forged = await client.get("/unsubscribe", params={"token": "bGVhcm5lcg.forged"})
        assert forged.status_code == 400
        for malformed in ("bGVhcm5lcg.ﬁ", "é", "..", ""):
            assert (await client.get("/unsubscribe", params={"token": malformed})).status_code == 400, malformed
            assert (await client.post("/unsubscribe", params={"token": malformed})).status_code == 400, malformed
        url = urlparse(link)
        learner_headers = stack.bearer(who.learner_id, Role.LEARNER)

        # Following the link (as a mail scanner or a link preview does) only asks; the page's button unsubscribes.
        page = await client.get(f"{url.path}?{url.query}")
        assert page.status_code == 200 and '<form method="post"' in page.text and "Unsubscribe" in page.text
        assert (await client.get("/preferences", headers=learner_headers)).json()["optional_emails"] is True
        action = re.search(r'action="([^"]+)"', page.text)[1].replace("&amp;", "&")
        done = await client.post(f"{url.path}{action}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "no more emails" in done.text
        assert (await client.get("/preferences", headers=learner_headers)).json()["optional_emails"] is False

        await publish(stack, waitlisted(who, position=2))
        await publish(stack, credential_issued(who))
        await eventually(lambda: _sent_count(client, who.email, 2))
    subjects = sorted(message["Subject"] for message in sink.emails_to(who.email))
    assert len(subjects) == 2 and any("issued" in s for s in subjects), "no second waitlist email"


async def _sent_count(client, recipient: str, count: int) -> bool:
    rows = await deliveries(client, recipient=recipient)
    return len(rows) == count and all(row["status"] == "sent" for row in rows)


async def test_a_mail_clients_one_click_unsubscribe_opts_the_learner_out(stack, sink):
    """RFC 8058: the client POSTs `List-Unsubscribe=One-Click` to the List-Unsubscribe link, without showing a page."""
    await sink.start()
    who = learner("One Click")
    async with running(create_service(settings_for(stack, sink))) as client:
        await publish(stack, waitlisted(who, position=1))
        await eventually(lambda: all_sent(client, [who.email]))
        [email] = sink.emails_to(who.email)
        url = urlparse(email["List-Unsubscribe"].strip().strip("<>"))
        response = await client.post(f"{url.path}?{url.query}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        learner_headers = stack.bearer(who.learner_id, Role.LEARNER)
        assert (await client.get("/preferences", headers=learner_headers)).json()["optional_emails"] is False
