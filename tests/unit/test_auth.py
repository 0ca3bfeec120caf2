"""Tokens and the shared checks: what a token attests, and who reads a learner's records. (Who may sign tokens:
tests/unit/test_token_issuers.py.)"""

import json
import subprocess
import sys
import time

import pytest
from fastapi import HTTPException
from joserfc import jws

from shared.auth import (
    AUDIENCE,
    Affiliation,
    Principal,
    Role,
    TokenVerifier,
    create_keys,
    read_key,
    reader_scope,
    require_learner_or_staff,
)
from shared.settings import ServiceSettings
from tests.stack import ROOT

ESI = "urn:schac:personalUniqueCode:int:esi:si:63000123"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory):
    private, public = create_keys(tmp_path_factory.mktemp("keys"))
    return private, public


def token(private_key_file, algorithm: str = "Ed25519", **claims: object) -> str:
    """A token as an identity provider configured with the node's key would sign it."""
    now = int(time.time())
    payload = json.dumps({"sub": "ana", "aud": AUDIENCE, "exp": now + 60, "iss": "https://idp.upr.si"} | claims)
    key = read_key(private_key_file.read_bytes())
    return jws.serialize_compact({"alg": algorithm, "typ": "JWT"}, payload, key, algorithms=[algorithm])


async def verified(public_key_file, text: str) -> Principal:
    return await TokenVerifier(ServiceSettings(auth_public_key_file=str(public_key_file))).verify(text, None)


async def test_an_identity_providers_claims_become_the_principal_and_what_this_node_does_not_know_is_left_out(keys):
    private, public = keys
    principal = await verified(
        public,
        token(
            private,
            name="Ana Horvat",
            email="ana@upr.si",
            roles=["learner", "dean"],
            institution="upr",
            affiliation=["Student", "member", "visiting-scholar"],
            schacPersonalUniqueCode=["urn:schac:personalUniqueCode:int:studentID:upr.si:123", ESI],
        ),
    )
    assert principal.roles == {Role.LEARNER}
    assert principal.affiliation == {Affiliation.STUDENT, Affiliation.MEMBER}
    assert (principal.name, principal.email, principal.institution, principal.esi, principal.subject) == (
        "Ana Horvat", "ana@upr.si", "upr", ESI, "ana"
    )

    single = await verified(public, token(private, affiliation="staff", schacPersonalUniqueCode=ESI))
    assert single.affiliation == {Affiliation.STAFF} and single.esi == ESI, "one value may come as a string"
    bare = await verified(public, token(private))
    assert (bare.name, bare.email, bare.affiliation, bare.esi) == (None, None, frozenset(), None)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
async def test_tokens_signed_under_the_older_name_of_the_algorithm_still_count(keys):
    """Tokens issued before this node named the algorithm as RFC 9864 does ("EdDSA", as PyJWT and Keycloak do)."""
    private, public = keys
    principal = await verified(public, token(private, algorithm="EdDSA", roles=["registrar"], institution="upr"))
    assert principal.roles == {Role.REGISTRAR}


async def test_the_token_command_issues_the_affiliation_and_the_esi(keys):
    private, public = keys
    issued = subprocess.run(
        [sys.executable, "-m", "shared.auth", "token", "--key", str(private), "--subject", "ana",
         "--name", "Ana Horvat", "--email", "ana@upr.si", "--role", "learner", "--institution", "upr",
         "--affiliation", "student", "--affiliation", "employee", "--esi", ESI],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()
    principal = await verified(public, issued)
    assert principal.affiliation == {Affiliation.STUDENT, Affiliation.EMPLOYEE} and principal.esi == ESI
    assert principal.issuer == "urn:microcredentials:node:local"
def person(*roles: Role, subject: str = "someone", institution: str | None = "uni-a") -> Principal:
    return Principal(subject=subject, roles=frozenset(roles), institution=institution)


READERS = (Role.REGISTRAR, Role.NODE_ADMIN)


def test_a_learners_record_is_read_by_them_by_staff_of_the_institutions_it_concerns_and_the_node_administrator():
    def allowed(principal: Principal) -> bool:
        try:
            require_learner_or_staff(principal, "ana", {"uni-a"}, READERS, "application 7")
        except HTTPException as refusal:
            assert refusal.status_code == 403
            return False
        return True

    assert allowed(person(Role.LEARNER, subject="ana", institution=None))
    assert not allowed(person(Role.LEARNER, subject="ben"))
    assert allowed(person(Role.REGISTRAR))
    assert not allowed(person(Role.REGISTRAR, institution="uni-b"))
    assert not allowed(person(Role.REGISTRAR, institution=None))
    assert not allowed(person(Role.ASSESSOR)), "a role the check does not name"
    assert allowed(person(Role.NODE_ADMIN, institution=None))
    with pytest.raises(HTTPException) as refused:
        require_learner_or_staff(person(Role.REGISTRAR, institution="uni-b"), "ana", {"uni-a"}, (Role.REGISTRAR,), "x")
    assert refused.value.detail == (
        "x concerns learner ana at uni-a: this needs the learner concerned, or the role registrar at the institutions "
        "it concerns; someone has the role registrar, for uni-b"
    ), "what was needed and what the token holds"


def test_a_list_shows_a_learner_their_own_and_refuses_them_anothers():
    ana = person(Role.LEARNER, subject="ana")
    assert reader_scope(ana, READERS, "grades").learner_id == "ana"
    assert reader_scope(ana, READERS, "grades", learner_id="ana").institution is None
    with pytest.raises(HTTPException, match="reading grades of learner ben needs the learner concerned"):
        reader_scope(ana, READERS, "grades", learner_id="ben")
    assert reader_scope(person(Role.REGISTRAR), READERS, "grades", learner_id="ben").institution == "uni-a"
    assert reader_scope(person(Role.NODE_ADMIN), READERS, "grades").everything
    with pytest.raises(HTTPException, match="someone has the role course-designer, for uni-a"):
        reader_scope(person(Role.COURSE_DESIGNER), READERS, "grades")
