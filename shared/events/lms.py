"""What LMS integrations (Moodle, Canvas, ...) publish: grade submissions, untrusted until assessment validates them.

An LMS produces one CloudEvent per grade on its own topic `mc.lms.<lms-id>.grade-submissions` (which only its Kafka
principal may write), with `source` = `urn:microcredentials:lms:<lms-id>`, keyed by the learner id, with any Kafka
client; docs/lms-grade-submission.md shows a kcat example.
"""

from datetime import date
from typing import ClassVar

from pydantic import Field

from shared.events.catalogue import IdentityVerification
from shared.events.envelope import Event
from shared.events.topics import Topic


class GradeSubmitted(Event):
    type: ClassVar[str] = "eu.microcredentials.lms.grade.submitted.v1"
    topic: ClassVar[Topic] = Topic.GRADE_SUBMISSIONS

    course_id: str = Field(min_length=1)
    learner_id: str = Field(min_length=1)
    grade: str = Field(min_length=1, max_length=20)
    # Ignored: assessment decides the pass from the course's grading scheme. Still required in .v1 (see the docs).
    passed: bool
    assessed_on: date
    assessor: str = Field(min_length=1)
    # Which LMS says it sent it (e.g. "moodle.uni-saarland.de"). Ignored: the node records the LMS whose topic it came
    # on. Still required in .v1.
    lms: str = Field(min_length=1)
    # How the learner's identity was verified at this assessment; when absent, the course's level applies.
    identity_verification: IdentityVerification | None = None

    @property
    def key(self) -> str:
        return self.learner_id
