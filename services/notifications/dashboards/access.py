"""Who sees the dashboards: staff, each their own institution's events and figures (the node administrator all); the
learners' identities only for those who may read them elsewhere (registrars, for their institution; the node
administrator)."""

from dataclasses import dataclass

from shared.auth import STAFF, Principal, Role, forbidden, require_role


@dataclass(frozen=True)
class View:
    # The universities shown; empty: every one (and events no university can be told for).
    universities: list[str]
    sees_learners: bool


def view(principal: Principal, asked: list[str]) -> View:
    """What the principal sees of the universities asked for (none: their own; all, for the node administrator);
    403 for a learner, or for another institution's dashboards."""
    require_role(principal, *sorted(STAFF))
    if principal.has(Role.NODE_ADMIN):
        return View(universities=asked, sees_learners=True)
    if principal.institution is None:
        raise forbidden("the dashboards show an institution's events: this needs a staff role at an institution", principal)
    for university in asked:
        if university != principal.institution:
            raise forbidden(f"the dashboards of {university} are for {university}'s staff", principal)
    return View(universities=[principal.institution], sees_learners=principal.has(Role.REGISTRAR))
