"""HTTP routes for courses and programmes.

Course designers of an awarding institution draft and submit; a QA officer of the lead institution (never the
designer) approves or rejects; a revision is a new version that goes through QA again; retiring takes a course off
offer. Who may act is judged by the version that governs (the newest approved one), never by what a new draft claims.
Reads are public; every write needs a bearer token, and the person is the token's subject.
"""

import dataclasses
import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Generic

from fastapi import APIRouter, Body, HTTPException, Path, Query
from sqlalchemy.exc import IntegrityError

from services.catalogue import consents, domain, queries
from services.catalogue.access import DESIGN, REASSIGN, RETIRE, REVIEW, Permission, check, refusals
from services.catalogue.domain import R
from services.catalogue.models import (
    Course,
    CourseCreate,
    CoursePublic,
    CaseState,
    ConsentCase,
    ConsentCasePublic,
    ConsentCaseRead,
    PartnerConsentPublic,
    Programme,
    ProgrammeCreate,
    ProgrammePublic,
    Reason,
    Rejection,
    Retirement,
    ReviewedPublic,
    Status,
)
from services.catalogue.settings import CatalogueSettings
from shared.auth import CurrentPrincipal, Principal
from shared.db import UnitOfWork
from shared.events import Event
from shared.events.catalogue import (
    CourseRejected,
    CourseRetired,
    CourseSubmitted,
    ProgrammeApproved,
)
from shared.http import UnitOfWorkDep
from shared.limits import PositiveInt32


@dataclass(frozen=True)
class Workflow(Generic[R]):
    """How courses and programmes differ in the one workflow they share: their table, their public shape, the facts."""

    model: type[R]
    public: type[ReviewedPublic]
    # None where the contracts have no such fact: a programme is announced only once approved.
    submitted: Callable[[R], Event] | None
    approved: Callable[[R], Event]
    rejected: Callable[[R], Event] | None
    # How the lead's QA approves a submitted version (None: at once, publishing `approved`); a joint course waits
    # for its partners' consent (consents.approve).
    approval: Callable[[UnitOfWork, R, Principal], Awaitable[None]] | None = None

    @property
    def noun(self) -> str:
        return self.model.__name__.lower()

    def show(self, item: R) -> ReviewedPublic:
        return self.public.model_validate(item, from_attributes=True)


def workflow_router(workflow: Workflow[R]) -> APIRouter:
    """Listing, reading, submitting, approving and rejecting: the same for courses and programmes."""
    noun = workflow.noun
    router = APIRouter(prefix=f"/{noun}s", tags=[f"{noun}s"])
    ItemId = Annotated[str, Path(alias=f"{noun}_id")]
    public = workflow.show

    async def step(
        uow: UnitOfWork,
        item_id: str,
        principal: Principal,
        permission: Permission,
        rule: Callable[[R], None],
        fact: Callable[[R], Event] | None,
    ) -> ReviewedPublic:
        """One step on the newest version, in one transaction: lock, check who acts (by the version that governs),
        apply the rule, publish."""
        async with uow:
            with refusals():
                versions = await queries.versions(uow.session, workflow.model, item_id, lock=True)
                permission.check(principal, domain.governing(versions).institutions, f"{noun} {item_id}")
                item = versions[-1]
                rule(item)
            if fact is not None:
                uow.publish(fact(item))
            await uow.commit()
        return public(item)

    @router.get("", response_model=list[workflow.public])
    async def listing(
        uow: UnitOfWorkDep,
        status: Annotated[Status | None, Query(description="The newest version in this status.")] = None,
        institution: Annotated[str | None, Query(description="An awarding institution's id.")] = None,
    ) -> list[ReviewedPublic]:
        async with uow:
            return [public(item) for item in await queries.listing(uow.session, workflow.model, status, institution)]

    @router.get(f"/{{{noun}_id}}", response_model=workflow.public, summary=f"The newest version of a {noun}")
    async def newest(item_id: ItemId, uow: UnitOfWorkDep) -> ReviewedPublic:
        async with uow:
            with refusals():
                return public(await queries.latest(uow.session, workflow.model, item_id))

    @router.post(f"/{{{noun}_id}}/submit", response_model=workflow.public)
    async def submit(item_id: ItemId, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ReviewedPublic:
        return await step(
            uow, item_id, principal, DESIGN, lambda item: domain.submit(item, principal.subject, principal.name), workflow.submitted
        )

    @router.post(f"/{{{noun}_id}}/approve", response_model=workflow.public)
    async def approve(item_id: ItemId, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ReviewedPublic:
        if workflow.approval is None:
            return await step(
                uow,
                item_id,
                principal,
                REVIEW,
                lambda item: domain.approve(item, principal.subject, principal.name),
                workflow.approved,
            )
        async with uow:
            with refusals():
                versions = await queries.versions(uow.session, workflow.model, item_id, lock=True)
                REVIEW.check(principal, domain.governing(versions).institutions, f"{noun} {item_id}")
                item = versions[-1]
                await workflow.approval(uow, item, principal)
            await uow.commit()
        return public(item)

    @router.post(f"/{{{noun}_id}}/reject", response_model=workflow.public)
    async def reject(
        item_id: ItemId, body: Rejection, principal: CurrentPrincipal, uow: UnitOfWorkDep
    ) -> ReviewedPublic:
        return await step(
            uow,
            item_id,
            principal,
            REVIEW,
            lambda item: domain.reject(item, principal.subject, body.reasons, principal.name),
            workflow.rejected,
        )

    return router


COURSES = Workflow(
    model=Course,
    public=CoursePublic,
    submitted=lambda course: CourseSubmitted(
        course_id=course.id, version=course.version, title=course.title, submitted_by=course.submitted_by
    ),
    approved=consents.course_approved,
    rejected=lambda course: CourseRejected(
        course_id=course.id, version=course.version, rejected_by=course.reviewed_by, reasons=course.rejection_reasons
    ),
)

PROGRAMMES = Workflow(
    model=Programme,
    public=ProgrammePublic,
    submitted=None,
    approved=lambda programme: ProgrammeApproved(
        programme_id=programme.id,
        version=programme.version,
        title=programme.title,
        description=programme.description,
        awarding_bodies=programme.awarding_bodies,
        rule=programme.rule,
        approved_by=programme.reviewed_by,
        approved_at=programme.reviewed_at,
    ),
    rejected=None,
)


def course_router(settings: CatalogueSettings, consenting: consents.Consenting) -> APIRouter:
    router = workflow_router(
        dataclasses.replace(COURSES, approval=functools.partial(consents.approve, consenting=consenting))
    )

    def draft(body: CourseCreate, principal: Principal, course_id: str, version: int) -> Course:
        """A new version in draft, once the description meets the policy (who may write it is checked before)."""
        check(domain.policy_violations(body.description, settings))
        return Course(
            id=course_id,
            version=version,
            description=body.description.model_dump(mode="json"),
            institutions=domain.institutions(body.description.awarding_bodies),
            designed_by=principal.subject,
            designed_by_name=principal.name,
        )

    @router.post("", status_code=201)
    async def create_course(body: CourseCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> CoursePublic:
        DESIGN.check(principal, domain.institutions(body.description.awarding_bodies), "this course")
        course = draft(body, principal, str(uuid.uuid4()), 1)
        async with uow:
            uow.session.add(course)
            await uow.commit()
        return COURSES.show(course)

    @router.post(
        "/{course_id}/revisions", status_code=201, summary="A new version, in draft, of an approved or rejected one"
    )
    async def revise_course(
        course_id: str, body: CourseCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep
    ) -> CoursePublic:
        async with uow:
            with refusals():
                versions = await queries.versions(uow.session, Course, course_id, lock=True)
                governing = domain.governing(versions)
                DESIGN.check(principal, governing.institutions, f"course {course_id}")
                if domain.changes_awarding_bodies(governing, domain.institutions(body.description.awarding_bodies)):
                    REASSIGN.check(principal, governing.institutions, f"course {course_id}")
                revision = draft(body, principal, course_id, domain.next_version(versions[-1]))
            uow.session.add(revision)
            try:
                await uow.commit()
            except IntegrityError as error:
                # Two revisions of the same version at once: the lock lets them through one after the other.
                raise HTTPException(409, detail=f"course {course_id} was revised meanwhile; read it again") from error
        return COURSES.show(revision)

    @router.put("/{course_id}", summary="Change the description of a course's newest version while it is a draft")
    async def change_draft(
        course_id: str, body: CourseCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep
    ) -> CoursePublic:
        async with uow:
            with refusals():
                versions = await queries.versions(uow.session, Course, course_id, lock=True)
                governing, newest = domain.governing(versions), versions[-1]
                DESIGN.check(principal, governing.institutions, f"course {course_id}")
                institutions = domain.institutions(body.description.awarding_bodies)
                if domain.changes_awarding_bodies(governing, institutions):
                    # The lead decides who awards, and a designer names no institution they do not design for.
                    REASSIGN.check(principal, governing.institutions, f"course {course_id}")
                    DESIGN.check(principal, institutions, "this course")
                domain.redraft(newest)
                check(domain.policy_violations(body.description, settings))
                newest.description = body.description.model_dump(mode="json")
                newest.institutions = institutions
            await uow.commit()
        return COURSES.show(newest)

    @router.get("/{course_id}/versions", summary="Every version of a course, oldest first")
    async def course_versions(course_id: str, uow: UnitOfWorkDep) -> list[CoursePublic]:
        async with uow:
            with refusals():
                found = await queries.versions(uow.session, Course, course_id)
        return [COURSES.show(course) for course in found]

    @router.get("/{course_id}/versions/{version}")
    async def course_version(course_id: str, version: PositiveInt32, uow: UnitOfWorkDep) -> CoursePublic:
        async with uow:
            with refusals():
                return COURSES.show(await queries.version(uow.session, Course, course_id, version))

    @router.get(
        "/{course_id}/consents",
        summary="Each co-awarding institution hosted by another node: asked to consent to which version, its answer",
    )
    async def partner_consents(course_id: str, uow: UnitOfWorkDep) -> list[PartnerConsentPublic]:
        async with uow:
            with refusals():
                await queries.versions(uow.session, Course, course_id)
            found = await consents.consents_of(uow, course_id)
        return [PartnerConsentPublic.model_validate(asked, from_attributes=True) for asked in found]

    @router.post("/{course_id}/retire", summary="Take every approved version of a course off offer")
    async def retire_course(
        course_id: str,
        principal: CurrentPrincipal,
        uow: UnitOfWorkDep,
        body: Annotated[Retirement | None, Body()] = None,
    ) -> list[CoursePublic]:
        reason = body.reason if body else None
        async with uow:
            with refusals():
                found = await queries.versions(uow.session, Course, course_id, lock=True)
                RETIRE.check(principal, domain.governing(found).institutions, f"course {course_id}")
                retired = domain.retire_all(found, principal.subject, reason)
            for course in retired:
                uow.publish(
                    CourseRetired(
                        course_id=course.id, version=course.version, retired_by=course.retired_by, reason=reason
                    )
                )
            await uow.commit()
        return [COURSES.show(course) for course in retired]

    return router


def programme_router(settings: CatalogueSettings) -> APIRouter:
    router = workflow_router(PROGRAMMES)

    @router.post("", status_code=201)
    async def create_programme(
        body: ProgrammeCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep
    ) -> ProgrammePublic:
        institutions = domain.institutions(body.awarding_bodies)
        DESIGN.check(principal, institutions, "this programme")
        async with uow:
            existing, ects = await queries.approved_ects(uow.session, body.rule.course_ids)
            check(
                domain.awarding_body_violations(body.awarding_bodies, settings, "awarding_bodies")
                + domain.rule_violations(body.rule, existing, ects)
            )
            programme = Programme(
                id=str(uuid.uuid4()),
                institutions=institutions,
                designed_by=principal.subject,
                designed_by_name=principal.name,
                title=body.title,
                description=body.description,
                awarding_bodies=[awarding_body.model_dump(mode="json") for awarding_body in body.awarding_bodies],
                rule=body.rule.model_dump(mode="json"),
            )
            uow.session.add(programme)
            await uow.commit()
        return PROGRAMMES.show(programme)

    return router


def consent_router() -> APIRouter:
    """At a partner's node: the lead nodes' requests that an institution of this node co-awards a course version, and
    its QA's decisions (four eyes: one recommends, another QA officer consents; declining and withdrawing need a
    reason). Reads are public, as the catalogue's are."""
    router = APIRouter(prefix="/consents", tags=["joint courses: consent"])

    @router.get("", summary="The requests to consent to other members' joint courses, oldest first")
    async def listing(
        uow: UnitOfWorkDep,
        state: Annotated[CaseState | None, Query(description="Only cases in this state.")] = None,
        institution: Annotated[str | None, Query(description="Only those asked of this institution.")] = None,
        course_id: Annotated[str | None, Query(description="Only those about this course of its lead.")] = None,
    ) -> list[ConsentCasePublic]:
        return [ConsentCasePublic.model_validate(case, from_attributes=True)
                for case in await consents.cases(uow, state, institution, course_id)]

    @router.get("/{case_id}", summary="One request, with what changed since the version consented to before")
    async def read(case_id: str, uow: UnitOfWorkDep) -> ConsentCaseRead:
        async with uow:
            with refusals():
                case = await consents.case_of(uow, case_id)
            previous = await consents.previous_case(uow, case)
        before = previous.description if previous else None
        return ConsentCaseRead.model_validate(
            ConsentCasePublic.model_validate(case, from_attributes=True).model_dump()
            | {"previous_description": before, "changes": domain.changed_fields(before, case.description)}
        )

    def decided(case: ConsentCase) -> ConsentCasePublic:
        return ConsentCasePublic.model_validate(case, from_attributes=True)

    @router.post("/{case_id}/recommend", summary="The first pair of eyes: recommend taking part (nothing is sent)")
    async def recommend(case_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ConsentCasePublic:
        with refusals():
            return decided(await consents.recommend(uow, case_id, principal))

    @router.post("/{case_id}/consent", summary="A QA officer other than who recommended it consents (answered to the lead)")
    async def consent(case_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ConsentCasePublic:
        with refusals():
            return decided(await consents.give(uow, case_id, principal))

    @router.post("/{case_id}/decline", summary="A QA officer declines, with the reason (answered to the lead)")
    async def decline(case_id: str, body: Reason, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ConsentCasePublic:
        with refusals():
            return decided(await consents.decline(uow, case_id, principal, body.reason))

    @router.post(
        "/{case_id}/withdraw",
        summary="A QA officer withdraws from this version on, with the reason: no new offerings; credentials stay",
    )
    async def withdraw(case_id: str, body: Reason, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ConsentCasePublic:
        with refusals():
            return decided(await consents.withdraw(uow, case_id, principal, body.reason))

    return router


def create_router(settings: CatalogueSettings, consenting: consents.Consenting) -> APIRouter:
    router = APIRouter()
    router.include_router(consent_router())
    router.include_router(course_router(settings, consenting))
    router.include_router(programme_router(settings))
    return router
