"""The demo: one learner's journey through a running node, told step by step (`deploy/demo.sh` starts the node)."""

import json
import os

from deploy.journey import Node, Person, sample_course
from deploy.keycloak_realm import DEMO_PASSWORD, DEMO_USERS, demo_user


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

    say("Ana Horvat of the demo's identity provider takes the course too, so that her wallet has a credential to show")
    ana = demo_user("ana.horvat")
    her = Person(ana.id, ana.name, "learner", ana.institution, ana.email, ana.affiliation)
    if node.call("GET", "enrolment", f"/learners/{ana.id}", by=her).status_code == 404:
        node.ok("POST", "enrolment", "/learners", by=her, json={"preferred_language": "en"})
    node.enrolled(her, offering)
    node.submit_grade_with_kcat(course["id"], ana.id, grade="1.0", passed=True)
    node.wait_for(
        "Ana's credential",
        lambda: next((c for c in node.credentials(ana.id) if c["course_id"] == course["id"]), None),
    )
    print(f"    sign in as ana.horvat at the front end: her wallet shows '{course['description']['title']}'")

    say("The web front end: sign in at the demo's identity provider (Keycloak) as one of these (demo passwords only)")
    web = os.environ.get("WEB_URL", "http://127.0.0.1:8000")
    print(f"    front end      {web}    (catalogue, apply, wallet, verify; English, Deutsch, français, "
          "български, italiano, lietuvių)")
    keycloak = f"http://127.0.0.1:{os.environ.get('KEYCLOAK_PORT', '8180')}/realms/microcredentials"
    print(f"    Keycloak       {os.environ.get('OIDC_ISSUER', keycloak)}")
    print(f"    password       {DEMO_PASSWORD}  (every demo user)")
    for user in DEMO_USERS:
        who = ", ".join(filter(None, [user.institution, *user.affiliation[:1]])) or "no institution (external)"
        print(f"    {user.username:<18} {', '.join(user.roles):<16} {user.name} ({who})")

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
