"""The exchanges between nodes of issue #12: a joint course consented to at each partner's node, and a joint
credential endorsed at the partner's node with the partner's own key. The first is not built yet; the second is
(services/certification/endorsements.py) but the kit does not drive it yet. When it does, each check here drives the
exchange and looks at what the node publishes on the alliance's topics."""

from conformance.run import NotApplicable, Run

NOT_BUILT = "joint courses with consent at each partner's node are not built yet (issue #12, item 1)"


async def joint_course(run: Run) -> None:
    """A joint course is approved only when each partner's QA officer consents at the partner's own node"""
    raise NotApplicable(NOT_BUILT)


async def endorsement(run: Run) -> None:
    """A joint credential carries each co-awarding university's endorsement, signed at its own node"""
    raise NotApplicable(
        "the kit does not drive the endorsement exchange yet (it would need a partner node of its own on the alliance "
        "bus; tests/integration/test_alliance_endorsements.py runs it between two nodes)"
    )
