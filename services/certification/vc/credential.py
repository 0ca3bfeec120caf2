"""An issued micro-credential as a W3C Verifiable Credential 2.0 + Open Badges 3.0 `OpenBadgeCredential`.

Every element of Annex I of the Council Recommendation of 16 June 2022 that the record holds is carried in Open Badges
3.0's own terms, so that a verifier with only the standard contexts (VC 2.0, Open Badges 3.0) reads and checks all of
it: where Open Badges has a property (name, creditsAvailable, inLanguage, criteria, creator, resultDescription, Profile
addresses), that property; otherwise an `alignment` of the achievement to the EQF, the European Learning Model's and
the EU's controlled vocabularies, or to Annex I itself (`vocabularies.py`). The result validates against 1EdTech's
Open Badges 3.0 JSON Schemas (`schemas/`). `MAPPING.md` beside this file lists where each element is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pydantic_core

from services.certification.vc import vocabularies
from services.certification.vc.contexts import CREDENTIAL_CONTEXT
from services.certification.vc.proof import number_written_differently

# For annotations only: the workers that sign and verify load this module, and the service's models would bring the
# database layer into each of them (~60 MB a worker; services/certification/signing_requests.py).
if TYPE_CHECKING:
    from services.certification.models import MicroCredentialRecord
    from shared.events.catalogue import AwardingBody


@dataclass(frozen=True)
class IssuerProfile:
    """The awarding university that signs: `id` is the DID its key belongs to (did:web of its node, or a did:key)."""

    id: str
    name: str
    url: str | None = None
    # ISO 3166-1 alpha-2.
    country: str | None = None
    email: str | None = None

    def as_profile(self) -> dict[str, Any]:
        return _profile(self.id, self.name, self.url, self.country, self.email)


def open_badge_credential_json(
    record: MicroCredentialRecord,
    credential_id: str,
    issuer: IssuerProfile,
    issued_at: datetime,
    status: Mapping[str, Any] | None = None,
    *,
    achievement_id: str | None = None,
    description: str | None = None,
    skills: Sequence[str] | Mapping[str, str] = (),
    awarding_body_ids: Mapping[str, str] | None = None,
    salt: str | None = None,
    valid_until: datetime | None = None,
    evidence: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The unsigned OpenBadgeCredential for `record`, as JSON text: what a signing worker takes (the issuing path
    serializes the document once, not dict -> text -> dict -> text); to sign it here with `proof.sign`, parse it.

    - `credential_id`: an absolute IRI, e.g. `urn:uuid:<uuid>` or the URL the credential can be fetched at.
    - `issuer`: the lead awarding university; its `id` must be the DID whose key will sign.
    - `issued_at`: timezone-aware; becomes `validFrom` and `awardedDate`.
    - `status`: the `credentialStatus` entry (one: Open Badges 3.0 allows one), e.g. a BitstringStatusListEntry.
    - `achievement_id`: the IRI of the course version (e.g. `urn:microcredentials:course:<id>:v<version>` or its
      catalogue URL); defaults to `<credential_id>#achievement`.
    - `description`: the course's short description; a summary is written when absent.
    - `skills`: ESCO skill URIs (or URI -> preferred label), aligned with `alignment`.
    - `awarding_body_ids`: institution code -> identifier (a DID) for the awarding bodies.
    - `salt`: for the hashed e-mail identifier; random when absent (the hash then cannot be looked up in a table).
    - `evidence`: Open Badges `Evidence` entries (a programme credential's parts).
    """
    _require_iri(credential_id, "credential_id")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    achievement_id = achievement_id or f"{credential_id}#achievement"
    _require_iri(achievement_id, "achievement_id")
    issued = _xsd_datetime(issued_at)

    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": record.title,
        "description": description or _summary(record),
        "criteria": {"narrative": _criteria(record)},
        "creditsAvailable": _number(record.workload_ects),
        "inLanguage": record.languages[0],
        # The lead awarding university defined the achievement; it is also the issuer.
        "creator": issuer.as_profile(),
        "alignment": _annex_alignments(record, achievement_id, issuer, awarding_body_ids or {}) + _skills(skills),
    }

    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": _identifiers(record, salt),
        "achievement": achievement,
        "creditsEarned": _number(record.workload_ects),
    }
    if record.grade_achieved is not None:
        grade_description = _derived_iri(achievement_id, "grade")
        achievement["resultDescription"] = [
            {"id": grade_description, "type": ["ResultDescription"], "name": "Grade", "resultType": "Result"}
        ]
        subject["result"] = [
            {"type": ["Result"], "resultDescription": grade_description, "value": record.grade_achieved}
        ]

    credential: dict[str, Any] = {
        "@context": list(CREDENTIAL_CONTEXT),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": record.title,
        "issuer": issuer.as_profile(),
        "validFrom": issued,
        "awardedDate": issued,
        "credentialSubject": subject,
    }
    if valid_until is not None:
        credential["validUntil"] = _xsd_datetime(valid_until)
    if status is not None:
        credential["credentialStatus"] = dict(status)
    if evidence:
        credential["evidence"] = [dict(entry) for entry in evidence]
    return _control_free_json(credential).decode()


# Control characters (other than tab, LF, CR) are replaced by a space: they carry no meaning in these texts, and
# JSON-LD processors canonicalize them differently, which would make the signature fail in other verifiers.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_control_characters(node: Any) -> Any:
    """A copy of the document with those characters replaced."""
    return pydantic_core.from_json(_control_free_json(node))


def _control_free_json(node: Any) -> bytes:
    """The document as JSON text, those characters replaced. Most documents have none: serialized once, a search of
    the text tells (JSON writes them as escapes, and DEL as itself); walking every string of a credential was a tenth
    of issuing's CPU in a cohort. A false alarm (an escaped backslash before `b`, `f` or `u00`) only takes the slow
    path."""
    text = pydantic_core.to_json(node)
    if not any(mark in text for mark in (b"\\u00", b"\\b", b"\\f", b"\x7f")):
        return text
    return pydantic_core.to_json(_replaced(node))


def _replaced(node: Any) -> Any:
    if isinstance(node, str):
        return _CONTROL_CHARACTERS.sub(" ", node)
    if isinstance(node, list):
        return [_replaced(item) for item in node]
    if isinstance(node, dict):
        return {key: _replaced(value) for key, value in node.items()}
    return node


def hashed_email(email: str, salt: str) -> str:
    """The Open Badges identity hash of an e-mail address: 'sha256$' + hex SHA-256 of (lower-cased address + salt)."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()


def _identifiers(record: MicroCredentialRecord, salt: str | None) -> list[dict[str, Any]]:
    learner = record.identification_of_the_learner
    salt = salt if salt is not None else secrets.token_hex(16)
    identifiers = [
        {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": learner.name},
        {
            "type": "IdentityObject",
            "identityType": "emailAddress",
            "hashed": True,
            "identityHash": hashed_email(str(learner.email), salt),
            "salt": salt,
        },
        {"type": "IdentityObject", "identityType": "systemId", "hashed": False, "identityHash": learner.learner_id},
    ]
    if learner.esi:
        identifiers.append(
            {
                "type": "IdentityObject",
                "identityType": "ext:europeanStudentIdentifier",
                "hashed": False,
                "identityHash": learner.esi,
            }
        )
    return identifiers


def _alignment(
    target_type: str,
    name: str,
    url: str,
    framework: str,
    code: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    alignment: dict[str, Any] = {
        "type": ["Alignment"],
        "targetType": f"ext:{target_type}",
        "targetName": name,
        "targetUrl": url,
        "targetFramework": framework,
    }
    if code is not None:
        alignment["targetCode"] = code
    if description is not None:
        alignment["targetDescription"] = description
    return alignment


def _annex_i(target_type: str, text: str, code: str | None = None) -> dict[str, Any]:
    """An element Annex I defines and no controlled vocabulary lists: its text (and option code), aligned to Annex I."""
    return _alignment(target_type, text, vocabularies.ANNEX_I, vocabularies.ANNEX_I_FRAMEWORK, code)


def _annex_alignments(
    record: MicroCredentialRecord, achievement_id: str, issuer: IssuerProfile, ids: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The Annex I elements Open Badges has no property for, in the order of Annex I."""
    alignments = []
    for country_code in record.countries_of_the_issuer:
        concept = vocabularies.country(country_code)
        if concept is not None:
            alignments.append(
                _alignment("IssuerCountry", concept.label, concept.iri, vocabularies.COUNTRY_FRAMEWORK, country_code)
            )
    for index, body in enumerate(record.awarding_bodies):
        role = "lead awarding body, the issuer" if index == 0 else "co-awarding body"
        alignments.append(
            _alignment(
                "AwardingBody",
                body.name,
                issuer.id if index == 0 else _awarding_body_id(body, ids),
                vocabularies.ANNEX_I_FRAMEWORK,
                body.id,
                f"{role}, {body.country}",
            )
        )
    for number, outcome in enumerate(record.learning_outcomes, start=1):
        # Outcomes are free text: each is given an IRI derived from the achievement's.
        url = _derived_iri(achievement_id, f"learning-outcome/{number}")
        alignments.append(_alignment("LearningOutcome", outcome, url, vocabularies.ANNEX_I_FRAMEWORK))
    for language_code in record.languages:
        concept = vocabularies.language(language_code)
        if concept is not None:
            alignments.append(
                _alignment("Language", concept.label, concept.iri, vocabularies.LANGUAGE_FRAMEWORK, language_code)
            )
    if record.workload_hours is not None:
        hours = _number(record.workload_hours)
        alignments.append(_annex_i("NotionalWorkload", f"{hours} hours", f"PT{hours}H"))
    if record.eqf_level is not None:
        level = vocabularies.eqf_level(record.eqf_level)
        alignments.append(
            _alignment("EQFLevel", level.label, level.iri, vocabularies.EQF_FRAMEWORK, str(record.eqf_level))
        )
    alignments.append(_annex_i("AssessmentType", record.type_of_assessment))
    mode = vocabularies.MODES[record.form_of_participation]
    alignments.append(
        _alignment(
            "ModeOfLearningAndAssessment",
            mode.label,
            mode.iri,
            vocabularies.MODE_FRAMEWORK,
            str(record.form_of_participation),
        )
    )
    alignments.append(_annex_i("QualityAssurance", record.type_of_quality_assurance))
    if record.prerequisites:
        alignments.append(_annex_i("EntryRequirement", record.prerequisites))
    if record.identity_verification is not None:
        option = record.identity_verification
        alignments.append(_annex_i("SupervisionAndIdentityVerification", vocabularies.SUPERVISION[option], str(option)))
    alignments.append(
        _annex_i("Stackability", vocabularies.STACKABILITY[record.stackability], str(record.stackability))
    )
    if record.contact:
        alignments.append(_contact(record.contact))
    return alignments


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _contact(contact: str) -> dict[str, Any]:
    """Further information: a link to it when the contact is an address or a URL, else Annex I's element."""
    if _EMAIL.match(contact.strip()):
        url = f"mailto:{contact.strip()}"
    elif re.match(r"^https?://\S+$", contact.strip()):
        url = contact.strip()
    else:
        url = vocabularies.ANNEX_I
    return _alignment("FurtherInformation", contact, url, vocabularies.ANNEX_I_FRAMEWORK)


def _awarding_body_id(body: AwardingBody, ids: Mapping[str, str]) -> str:
    if body.id and body.id in ids:
        return ids[body.id]
    if body.id:
        return f"urn:microcredentials:institution:{body.id}"
    if body.url:
        return body.url
    return "urn:microcredentials:institution:" + (re.sub(r"[^a-z0-9]+", "-", body.name.lower()).strip("-") or "unnamed")


def _profile(
    identifier: str, name: str, url: str | None, country: str | None, email: str | None = None
) -> dict[str, Any]:
    _require_iri(identifier, "profile id")
    profile: dict[str, Any] = {"id": identifier, "type": ["Profile"], "name": name}
    if url:
        profile["url"] = url
    if email:
        profile["email"] = email
    if country:
        profile["address"] = {"type": ["Address"], "addressCountryCode": country}
    return profile


def _skills(skills: Sequence[str] | Mapping[str, str]) -> list[dict[str, Any]]:
    labelled = skills.items() if isinstance(skills, Mapping) else ((uri, None) for uri in skills)
    alignments = []
    for uri, label in labelled:
        _require_iri(uri, "skill")
        alignments.append(_alignment("ESCOSkill", label or uri, uri, vocabularies.ESCO_FRAMEWORK))
    return alignments


def _criteria(record: MicroCredentialRecord) -> str:
    outcomes = "\n".join(f"- {outcome}" for outcome in record.learning_outcomes)
    return f"Passed the assessment ({record.type_of_assessment}), demonstrating these learning outcomes:\n\n{outcomes}"


def _summary(record: MicroCredentialRecord) -> str:
    bodies = ", ".join(body.name for body in record.awarding_bodies)
    level = f", EQF level {record.eqf_level}" if record.eqf_level is not None else ""
    return f"Micro-credential of {_number(record.workload_ects)} ECTS{level}, awarded by {bodies}."


def _derived_iri(base: str, name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{base}/{name}')}"


def _number(value: float) -> int | float:
    """Integral values as JSON integers (`5`, not `5.0`), so that every JSON-LD processor reads the same number;
    a number they would write differently (1e-7, say) is refused (`sign` would refuse it too)."""
    number = int(value) if float(value).is_integer() else float(value)
    if number_written_differently(number):
        raise ValueError(f"{value} cannot be written alike by every verifier's JSON-LD processor")
    return number


def _xsd_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _require_iri(value: str, what: str) -> None:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
        raise ValueError(f"{what} must be an absolute IRI (e.g. urn:uuid:... or https://...), got {value!r}")
