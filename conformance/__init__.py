"""The conformance kit: checks a node from outside, as the alliance depends on it, so that a university can replace its
node with its own implementation (`python -m conformance --node node.json`; README.md says how to run it).

It knows a node only by what the node must publish: its HTTP APIs, its events on Kafka (judged by the published
contract: shared/events/schemas/ and shared/events/topics.json, never by this project's Python models), and its
credentials, status lists and DID documents (judged by an independent verifier and 1EdTech's schemas).

    description.py   the node description the operator gives (URLs, Kafka principals, test institution, tokens)
    contract.py      the published contract, read from its files
    run.py           the runner, and `Run`: what a check has at hand (HTTP, the event log, the LMS, test users)
    kafka.py         the auditor's event log and the LMS's producer
    steps.py         the exchanges the checks build on (course approved, offering opened, learner enrolled, grade sent)
    partner.py       the kit as a partner node of the node (the `alliance` section): on the alliance bus, its DID document
    checks/          the checks, registered in checks/__init__.py
    report.py        the report: text and JSON
"""
