"""The demo: one learner's journey through a running node, told step by step (`deploy/demo.sh` starts the node)."""

import json
import uuid

from deploy.journey import Node, sample_course


def say(step: str) -> None:
    print(f"\n==> {step}")


def main() -> None:
    node = Node.from_environment()
    run = uuid.uuid4().hex[:6]

    say("A course designer at Saarland University describes a micro-credential; a QA officer approves it")
    course = node.approved_course(
        sample_course(), designer="designer@uni-saarland.de", qa_officer="qa-office@uni-saarland.de"
    )
    print(f"    course {course['id']} '{course['description']['title']}' is {course['status']}")

    say("A learner registers and enrols (enrolment learns of the approval from the CourseApproved event)")
    learner = node.registered_learner("Ana Horvat", f"ana.horvat.{run}@student.upr.si", "University of Primorska")
    enrolment = node.enrolment(learner["id"], course["id"])
    print(f"    learner {learner['id']} enrolled: enrolment {enrolment['id']}")
    node.wait_until_gradable(learner["id"], course["id"])

    say("The LMS publishes her grade onto Kafka with kcat (a plain Kafka client, no code of ours)")
    node.submit_grade_with_kcat(course["id"], learner["id"], grade="1.3", passed=True)
    print(f"    kcat -P -b {node.kafka} -t {node.topic_prefix}mc.lms.grade-submissions -k {learner['id']}")

    say("Assessment records the grade, certification issues the credential record")
    credential = node.wait_for_credential(learner["id"])
    print(json.dumps(credential, indent=2, ensure_ascii=False))

    say("Notifications emailed her over SMTP")
    email = node.wait_for_email(learner["email"])
    print(f"    To: {email['To']}\n    Subject: {email['Subject']}\n")
    print("    " + email.get_body(("plain",)).get_content().replace("\n", "\n    "))

    say("A grade for someone who is not enrolled is rejected, with the reason, and issues nothing")
    stranger = node.registered_learner("Petar Ivanov", f"petar.ivanov.{run}@example.eu")
    node.submit_grade_with_kcat(course["id"], stranger["id"], grade="1.0", passed=True)
    rejection = node.wait_for("the rejection", lambda: next(iter(node.rejections(stranger["id"])), None))
    print(f"    rejected ({rejection['rule']}): {rejection['reason']}")
    print(f"    credentials for {stranger['id']}: {node.credentials(stranger['id'])}")

    say("Where to look")
    for name, url in node.urls.items():
        print(f"    {name:<14} {url}/docs")
    print(f"    credential     {node.urls['certification']}/credentials/{credential['id']}")
    print(f"    mailbox        {node.maildir} (one file per email)")
    print("    logs           .run/logs/<service>.log;  stop everything with: bash deploy/node.sh stop")


if __name__ == "__main__":
    main()
