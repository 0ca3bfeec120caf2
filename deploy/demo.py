"""The demo: one learner's journey through a running node, told step by step (`deploy/demo.sh` starts the node)."""

import json

from deploy.journey import Node, sample_course


def say(step: str) -> None:
    print(f"\n==> {step}")


def main() -> None:
    node = Node.from_environment()

    say("A course designer at Saarland University describes a micro-credential; a QA officer approves it")
    course = node.approved_course(sample_course())
    print(f"    course {course['id']} '{course['description']['title']}' is {course['status']}")
    offering = node.opened_offering(course, capacity=25, fee={"amount": 120, "currency": "EUR"})
    print(f"    the registrar opened offering {offering['id']}: 25 places, 120 EUR for external learners")

    say("A learner registers and applies (enrolment learns of the offering from the OfferingOpened event)")
    # Her university's identity provider attests who she is: a student (eduPersonAffiliation) of the University of
    # Primorska, an alliance member, so she learns for free.
    learner = node.registered_learner("Ana Horvat", affiliation=("student",), institution="upr")
    application = node.enrolled(learner, offering)
    print(f"    {learner.name} ({learner.subject}) is {application['status']}, fee {application['fee_status']}")

    say("The LMS publishes her grade onto Kafka with kcat (a plain Kafka client, no code of ours), as its own principal")
    node.submit_grade_with_kcat(course["id"], learner.subject, grade="1.3", passed=True)
    print(f"    kcat -F {node.kcat_config(node.lms_principal())} -P -t {node.topic_prefix}{node.lms.topic} "
          f"-k {learner.subject}")
    refused = node.produce_with_kcat(node.lms.topic, learner.subject, "{}", principal=None, check=False)
    why = next((line for line in refused.stderr.splitlines() if "ERROR" in line), f"exit {refused.returncode}")
    print(f"    the same kcat without the LMS's credentials is refused by the broker:\n    {why}")

    say("Assessment records the grade, certification issues the credential record")
    credential = node.wait_for_credential(learner.subject)
    print(json.dumps(credential, indent=2, ensure_ascii=False))

    say("Notifications emailed her over SMTP")
    for email in (node.wait_for_email(learner.email, about="enrolled"), node.wait_for_email(learner.email, about="issued")):
        print(f"    To: {email['To']}\n    Subject: {email['Subject']}\n")
        print("    " + email.get_body(("plain",)).get_content().replace("\n", "\n    "))

    say("A grade for someone who is not enrolled is rejected, with the reason, and issues nothing")
    stranger = node.registered_learner("Petar Ivanov")
    node.submit_grade_with_kcat(course["id"], stranger.subject, grade="1.0", passed=True)
    rejection = node.wait_for("the rejection", lambda: next(iter(node.rejections(stranger.subject)), None))
    print(f"    rejected ({rejection['rule']}): {rejection['reason']}")
    print(f"    credentials for {stranger.subject}: {node.credentials(stranger.subject)}")

    say("Who may read what: learners' records need a token, and a token of the right person")
    for service, path in (("assessment", "/grades"), ("notifications", "/dashboard/events")):
        print(f"    GET {path} without a token: {node.call('GET', service, path).status_code}")
    other = node.call("GET", "enrolment", f"/learners/{learner.subject}", by=stranger)
    print(f"    {stranger.name} reading {learner.name}'s record: {other.status_code} {other.json()['detail']}")

    say("Where to look")
    for name, url in node.urls.items():
        print(f"    {name:<14} {url}/docs")
    print(f"    catalogue page {node.urls['catalogue']}/catalogue")
    print(f"    credential     {node.urls['certification']}/credentials/{credential['id']}")
    print(f"    mailbox        {node.maildir} (one file per email)")
    print(f"    dashboard      {node.urls['notifications']}/dashboard (asks for a staff member's token)")
    print("    tokens         python -m shared.auth token --key .run/keys/auth-private.pem --subject ... --role ... "
          "[--institution upr --affiliation student]")
    print(f"    Kafka          credentials of each service and LMS in {node.kafka_credentials}; rights: "
          "python -m deploy.kafka_security acls")
    print("    logs           .run/logs/<service>.log;  stop everything with: bash deploy/node.sh stop")


if __name__ == "__main__":
    main()
