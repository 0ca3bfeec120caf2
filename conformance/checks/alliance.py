"""The exchanges between nodes of issue #12: a joint course consented to at each partner's node, and a joint
credential endorsed at the partner's node with the partner's own key. They are not built yet; when they are, each
check here drives the exchange and looks at what the node publishes on the alliance's topics."""

from conformance.run import NotApplicable, Run

NOT_BUILT = "the node's alliance exchanges are not built yet (issue #12, items 1 and 2)"


async def joint_course(run: Run) -> None:
    """A joint course is approved only when each partner's QA officer consents at the partner's own node"""
    raise NotApplicable(NOT_BUILT)


async def endorsement(run: Run) -> None:
    """A joint credential carries each co-awarding university's endorsement, signed at its own node"""
    raise NotApplicable(NOT_BUILT)
