"""The fast canonicalization path (vc/quads.py + vc/rdfc.py) writes pyld's bytes, or steps aside for pyld.

A signature covers the canonical N-Quads of the credential: if the fast path wrote one byte differently from pyld,
credentials signed here would not verify at other nodes (nor old ones here). So every case is canonicalized by the
fast path and by pyld as it comes (no cache, `jsonld.normalize`), and the two are compared byte for byte: every kind
of document the node signs, randomized records, randomly mutated documents, and documents the fast path must leave
to pyld. Seeds are fixed, so a failure names a case that can be replayed.
"""

import copy
import json
import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyld.canon import URDNA2015
from pyld.nquads import parse_nquads

from services.certification import status_lists
from services.certification.models import MicroCredentialRecord
from services.certification.signing_keys import create_key
from services.certification.status_lists import StatusPurpose, status_entry, status_list_credential
from services.certification.tests.test_signing import request as signing_request
from services.certification.tests.test_vc import (
    ISSUED_AT,
    RESOLVE,
    SAARLAND,
    SAARLAND_KEY,
    SAARLAND_METHOD,
    every_kind_of_credential,
    plain_pyld,
)
from services.certification.vc import keys, rdfc
from services.certification.vc.contexts import CREDENTIAL_CONTEXT, OB_V3, VC_V2, bundled_contexts
from services.certification.vc.credential import IssuerProfile, open_badge_credential_json
from services.certification.vc.endorsement import endorsement_credential, verify_joint, with_endorsements
from services.certification.vc.proof import (
    CanonicalizationError,
    canonicalize,
    canonicalize_fast,
    canonicalize_with_pyld,
    sign,
    verify,
)
from shared.events.catalogue import AwardingBody, FormOfParticipation, IdentityVerification, Stackability
from shared.events.common import LearnerIdentity


def unsecured(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "proof"}


def proof_configuration(document: dict[str, Any]) -> dict[str, Any]:
    """What a signature's first hash covers: the proof without its value, with the document's contexts."""
    [proof] = document["proof"]
    return {"@context": document["@context"], **{key: value for key, value in proof.items() if key != "proofValue"}}


def assert_fast_path_gives_pyld_s_bytes(document: dict[str, Any]) -> str:
    fast = canonicalize_fast(document)
    assert fast is not None, "the fast path should handle this document"
    assert fast == plain_pyld(document)
    return fast


# Every kind of document the node signs.


def documents_the_node_signs() -> Iterator[tuple[str, dict[str, Any]]]:
    for kind, credential in every_kind_of_credential().items():
        yield kind, unsecured(credential)
        yield f"{kind}: proof configuration", proof_configuration(credential)
        for number, endorsement in enumerate(credential.get("endorsement", []), start=1):
            yield f"{kind}: endorsement {number}", unsecured(endorsement)
            yield f"{kind}: endorsement {number}: proof configuration", proof_configuration(endorsement)
    for purpose in StatusPurpose:
        bits = status_lists.bitstring(status_lists.MINIMUM_LENGTH, [3, 17, 131071])
        status_list = status_list_credential(
            f"https://node.example/status-lists/uni-saarland/{purpose}", SAARLAND.id, purpose, bits,
            "2025-07-01T10:30:00Z",
        )
        signed = sign(status_list, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)
        yield f"status list ({purpose})", status_list
        yield f"status list ({purpose}): proof configuration", proof_configuration(signed)


@pytest.mark.parametrize(("kind", "document"), list(documents_the_node_signs()), ids=lambda value: str(value)[:60])
def test_every_kind_of_document_the_node_signs_takes_the_fast_path_with_pyld_s_bytes(
    kind: str, document: dict[str, Any]
) -> None:
    assert_fast_path_gives_pyld_s_bytes(document)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("canonical-keys")
    create_key(folder, "uni-saarland")
    create_key(folder, "uni-sofia")
    return str(folder)


def test_a_credential_as_the_certification_service_builds_it_takes_the_fast_path(keys_dir: str) -> None:
    # did:web issuer, status entry, co-awarding endorsement signed by the same node: what issuing.py hands the signer.
    signing = signing_request(
        keys_dir,
        AwardingBody(id="uni-saarland", name="Saarland University", country="DE"),
        AwardingBody(id="uni-sofia", name="Sofia University", country="BG"),
    )
    signed = json.loads(signing.sign())
    assert signed["endorsement"], "the co-awarding university endorses it"
    for document in [signed, *signed["endorsement"]]:
        assert_fast_path_gives_pyld_s_bytes(unsecured(document))
        assert_fast_path_gives_pyld_s_bytes(proof_configuration(document))


# Randomized records: the texts, numbers and shapes learners and course designers bring.

TEXT_PIECES = [
    *string.ascii_letters, *string.digits, " ", "  ", "-", ".", ",", "'", '"', "\\", "\\n", "\t", "\n", "\r", "\r\n",
    "ä", "ß", "Ł", "č", "Ø", "é", "e\u0301", "Ω", "Ж", "学位", "証明書", "مرحبا", "שלום", "🎓", "👩🏽‍🔬", "\u00a0",
    "\u200d", "\u2028", "\ufeff", "<", ">", "&", "{", "}", "@", ":", "#", "/", "_:b0", "%20", "\x01", "\x0b", "\x1f",
    "\x7f",
]


def text(rng: random.Random, longest: int = 40) -> str:
    value = "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(1, longest))).strip()
    return value or "x"


def random_record(rng: random.Random) -> MicroCredentialRecord:
    bodies = [
        AwardingBody(
            id=f"uni-{index}-{rng.randint(0, 999)}", name=text(rng, 12), country=rng.choice(["DE", "BG", "FR", "PL"]),
            url=rng.choice([None, f"https://uni-{index}.example/"]),
        )
        for index in range(rng.randint(1, 5))
    ]
    values: dict[str, Any] = dict(
        identification_of_the_learner=LearnerIdentity(
            learner_id=f"learner-{rng.randint(0, 10**6)}",
            name=text(rng, 20),
            email=f"l{rng.randint(0, 10**6)}@example.org",
            esi=rng.choice([None, f"urn:schac:personalUniqueCode:int:esi:de:{rng.randint(0, 10**6)}"]),
        ),
        title=text(rng, 30),
        countries_of_the_issuer=sorted({body.country for body in bodies}),
        awarding_bodies=bodies,
        date_of_issuing=ISSUED_AT.date(),
        learning_outcomes=[text(rng) for _ in range(rng.randint(1, 30))],
        languages=rng.sample(["en", "de", "bg", "fr", "pl", "xx"], rng.randint(1, 3)),
        workload_ects=rng.choice([2.5, 3, 0.5, 7.25, 1, 30, 0.001, 12.125, 5.0, 1.5e-6, 0.1 + 0.2, 123456.75]),
        workload_hours=rng.choice([None, 75, 62.5, 0.25, 1000, 7.0]),
        eqf_level=rng.choice([None, *range(1, 9)]),
        type_of_assessment=text(rng),
        form_of_participation=rng.choice(list(FormOfParticipation)),
        type_of_quality_assurance=text(rng),
        grade_achieved=rng.choice([None, "1.3", "pass", text(rng, 5)]),
        prerequisites=rng.choice([None, text(rng)]),
        identity_verification=rng.choice([None, *IdentityVerification]),
        stackability=rng.choice(list(Stackability)),
        contact=rng.choice([None, "info@uni.example", "https://uni.example/contact", text(rng)]),
    )
    return MicroCredentialRecord(**values)


def random_credential(rng: random.Random) -> tuple[dict[str, Any], list[Ed25519PrivateKey]]:
    """An unsigned credential of a random record, with endorsements of 0-3 partners; their keys."""
    record = random_record(rng)
    credential_id = f"urn:uuid:{rng.getrandbits(128):032x}"
    skills = {f"http://data.europa.eu/esco/skill/{rng.randint(0, 99)}": text(rng, 8) for _ in range(rng.randint(0, 4))}
    unsigned = json.loads(open_badge_credential_json(
        record, credential_id, SAARLAND, ISSUED_AT, status_entry(
            "https://node.example", "uni-saarland", rng.randrange(131072), StatusPurpose.REVOCATION
        ),
        skills=skills, description=rng.choice([None, text(rng, 60)]), salt=text(rng, 8),
    ))
    partner_keys = [Ed25519PrivateKey.generate() for _ in range(rng.randint(0, 3))]
    endorsements = [
        endorsement_credential(
            credential_id,
            IssuerProfile(keys.did_key(key.public_key()), text(rng, 12), country=rng.choice([None, "BG", "FR"])),
            text(rng, 50),
            private_key=key,
            verification_method=keys.did_key_verification_method(key.public_key()),
            issued_at=ISSUED_AT + timedelta(seconds=rng.randint(0, 10**6)),
        )
        for key in partner_keys
    ]
    return (with_endorsements(unsigned, endorsements) if endorsements else unsigned), partner_keys


def string_leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from string_leaves(value, (*path, index))
    else:
        yield path, node


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return value + "x"


@pytest.mark.parametrize("seed", range(40))
def test_randomized_credentials_canonicalize_to_pyld_s_bytes_sign_verify_and_fail_when_tampered(seed: int) -> None:
    rng = random.Random(seed)
    unsigned, _ = random_credential(rng)
    assert_fast_path_gives_pyld_s_bytes(unsigned)
    for endorsement in unsigned.get("endorsement", []):
        assert_fast_path_gives_pyld_s_bytes(unsecured(endorsement))

    signed = sign(unsigned, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)
    assert verify_joint(signed, RESOLVE).verified

    # Any value changed anywhere (the learner's name, a grade, an endorsement's text, the proof's date...) fails.
    for path, value in rng.sample(list(string_leaves(signed)), 8):
        tampered = copy.deepcopy(signed)
        holder = tampered
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = changed(value)
        assert not verify_joint(tampered, RESOLVE).verified, f"changing {path} went unnoticed"


@pytest.mark.parametrize("seed", range(10))
def test_raw_texts_with_control_characters_quotes_and_any_unicode_give_pyld_s_bytes(seed: int) -> None:
    # Credentials built here never hold control characters (they are replaced, and `sign` refuses them), but a
    # credential sent to /verify may: pyld's way of writing them must be kept, byte for byte.
    rng = random.Random(seed)
    document = copy.deepcopy(every_kind_of_credential()["joint"])
    for path, value in list(string_leaves(document)):
        if path[-1] in ("name", "targetName", "narrative", "endorsementComment", "identityHash", "description"):
            holder = document
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = value + text(rng) + rng.choice(["\x00", "\x08", "\x1b", "\x7f", "\\\"", "\r\n"])
    assert_fast_path_gives_pyld_s_bytes(unsecured(document))


# Randomly mutated documents: where the fast path answers, it answers pyld's bytes.

def defined_terms() -> list[str]:
    """Every term the bundled contexts define, at any depth (type- and property-scoped contexts too)."""
    terms: set[str] = set()

    def collect(context: Any) -> None:
        for term, definition in context.items():
            if not term.startswith("@"):
                terms.add(term)
            if isinstance(definition, dict) and isinstance(definition.get("@context"), dict):
                collect(definition["@context"])

    for document in bundled_contexts().values():
        collect(document["@context"])
    return sorted(terms)


TERMS = defined_terms()


def random_value(rng: random.Random, depth: int, keys: list[str], types: list[str]) -> Any:
    choices = [
        lambda: text(rng, 10),
        lambda: rng.choice([0, 3, -7, 2**63, 10**21, 10**22, 2.5, 3.0, -0.125, 1e-7, 1.5e300, 5e-324]),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(IRIS),
        lambda: rng.choice(keys + types),
        lambda: [random_value(rng, depth + 1, keys, types) for _ in range(rng.randint(0, 3))],
        lambda: random_node(rng, depth + 1, keys, types),
        lambda: {"id": rng.choice(IRIS)},
        lambda: {},
    ]
    return rng.choice(choices[: 5 if depth > 2 else len(choices)])()


IRIS = ["urn:uuid:1", "https://a.example/x", "did:key:z6Mk", "mailto:a@b.example", "https://a.example/x#frag",
        "relative/path", "_:b7", "urn:with space"]


def random_node(rng: random.Random, depth: int, keys: list[str], types: list[str]) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if rng.random() < 0.8:
        node["type"] = rng.sample(types, rng.randint(1, 2)) if rng.random() < 0.5 else rng.choice(types)
    if rng.random() < 0.4:
        node["id"] = rng.choice(IRIS[:5])
    for _ in range(rng.randint(0, 4)):
        node[rng.choice(keys)] = random_value(rng, depth, keys, types)
    return node


def mutate(rng: random.Random, document: dict[str, Any], keys: list[str], types: list[str]) -> None:
    """One random change: mostly within the terms and types such documents use (`keys`, `types`), sometimes any
    term of the contexts, in scope or not."""
    holder = rng.choice([holder for _, holder in _dicts(document)])
    present = [key for key in holder if key not in ("@context", "type", "id")]
    action = rng.randrange(9)
    if action == 0 or not present:
        holder[rng.choice(keys if rng.random() < 0.8 else TERMS)] = random_value(rng, 1, keys, types)
    elif action == 1:
        del holder[rng.choice(present)]
    elif action == 2:
        holder[rng.choice(present)] = random_value(rng, 3, keys, types)  # a text, number, boolean, null or IRI
    elif action == 3:
        key = rng.choice(present)
        holder[key] = [holder[key], copy.deepcopy(holder[key])] if rng.random() < 0.5 else [holder[key]]
    elif action == 4:
        holder["type"] = rng.sample(types, rng.randint(1, 3))
    elif action == 5:
        holder["id"] = rng.choice(IRIS)
    elif action == 6:
        holder[rng.choice(present)] = random_node(rng, 1, keys, types)
    elif action == 7:
        holder[rng.choice(present)] = rng.choice([[], {}, None, [None]])
    else:  # a node's own contexts (embedded endorsements have them)
        holder["@context"] = rng.choice([[VC_V2], [VC_V2, OB_V3], [OB_V3], [OB_V3, VC_V2], VC_V2])


def _dicts(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _dicts(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _dicts(value, (*path, index))


def test_randomly_mutated_documents_get_pyld_s_bytes_or_are_left_to_pyld() -> None:
    rng = random.Random(20260701)
    originals = [unsecured(credential) for credential in every_kind_of_credential().values()]
    keys = sorted({key for original in originals for _, node in _dicts(original) for key in node} - {"@context"})
    types = sorted(
        {kind for original in originals for _, node in _dicts(original) for kind in _as_list(node.get("type", []))}
    )
    fast_answers = 0
    cases = 400
    for case in range(cases):
        document = copy.deepcopy(rng.choice(originals))
        for _ in range(rng.randint(1, 3)):
            mutate(rng, document, keys, types)
        fast = canonicalize_fast(document)
        if fast is None:
            continue
        fast_answers += 1
        try:
            expected = canonicalize_with_pyld(document)
        except CanonicalizationError as error:
            pytest.fail(f"case {case}: the fast path canonicalized a document pyld refuses ({error}): {document}")
        assert fast == expected, f"case {case}: {json.dumps(document)[:2000]}"
    # Most mutations keep the document within what the fast path handles, so the comparison above means something.
    assert fast_answers >= cases // 3, fast_answers


# Every term of the bundled contexts, with awkward values, on the credential and inside its achievement (where the
# type-scoped contexts apply): the fast path answers pyld's bytes, or leaves the document to pyld.

ODD_VALUES = [True, 0, 1.0, 1.5, -(2**60), "x y", "_:b", "nan", " 2 ", "ob:foo", {"id": "urn:x"},
              {"type": "Alignment"}, ["urn:a", "urn:a"], [1, True, "1"]]


@pytest.mark.parametrize("value", ODD_VALUES, ids=[json.dumps(value) for value in ODD_VALUES])
def test_every_term_with_odd_values_gets_pyld_s_bytes_or_is_left_to_pyld(value: Any) -> None:
    base = unsecured(every_kind_of_credential()["single"])
    fast_answers = 0
    for term in TERMS:
        for holder_of in (lambda d: d, lambda d: d["credentialSubject"]["achievement"]):
            document = copy.deepcopy(base)
            holder_of(document)[term] = copy.deepcopy(value)
            fast = canonicalize_fast(document)
            if fast is None:
                continue
            fast_answers += 1
            try:
                expected = canonicalize_with_pyld(document)
            except CanonicalizationError as error:
                pytest.fail(f"{term}={value!r}: the fast path canonicalized a document pyld refuses ({error})")
            assert fast == expected, f"{term}={value!r}"
    assert fast_answers > 0  # the comparison above was made


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# What the fast path leaves to pyld: the answer (or the error) is pyld's.


OUTSIDE_THE_FAST_PATH = {
    "an inline context": lambda d: d.update({"@context": [*CREDENTIAL_CONTEXT, {"honours": "urn:example:honours"}],
                                             "honours": "summa cum laude"}),
    "an unknown context": lambda d: d.update({"@context": [*CREDENTIAL_CONTEXT, "https://attacker.example/c.jsonld"]}),
    "a property no context defines": lambda d: d.update({"honours": "summa cum laude"}),
    "a relative IRI": lambda d: d["credentialSubject"]["achievement"].update({"id": "another-course"}),
    "an IRI with a space": lambda d: d["credentialSubject"].update({"id": "urn:with space"}),
    "a blank node identifier": lambda d: d["credentialSubject"].update({"id": "_:learner"}),
    "a language-tagged value": lambda d: d.update({"name": {"@value": "Ethik der KI", "@language": "de"}}),
    "a keyword written out": lambda d: d.update({"@type": ["VerifiableCredential", "OpenBadgeCredential"]}),
    "a nested context": lambda d: d["credentialSubject"].update({"@context": {"x": "urn:x"}, "x": "y"}),
    "a JSON literal": lambda d: d.update({"@context": [*CREDENTIAL_CONTEXT], "_sd": {"a": [1, 2]}}),
    "a type no context defines": lambda d: d["credentialSubject"].update({"type": ["AchievementSubject", "Diploma"]}),
    "a number that is not finite": lambda d: d["credentialSubject"].update({"creditsEarned": float("inf")}),
}


@pytest.mark.parametrize("change", OUTSIDE_THE_FAST_PATH.values(), ids=OUTSIDE_THE_FAST_PATH.keys())
def test_documents_outside_the_fast_path_are_canonicalized_or_refused_by_pyld(change: Any) -> None:
    document = unsecured(every_kind_of_credential()["single"])
    change(document)
    assert canonicalize_fast(document) is None
    try:
        expected = canonicalize_with_pyld(document)
    except CanonicalizationError as error:
        with pytest.raises(CanonicalizationError) as refused:
            canonicalize(document)
        assert str(refused.value) == str(error)
    else:
        assert canonicalize(document) == expected == plain_pyld(document)


@pytest.mark.parametrize("iri", ["urn:with space", "urn:line\nbreak", "urn:trailing-line-break\n"])
def test_an_iri_pyld_would_leave_out_of_the_dataset_is_refused_rather_than_left_unsigned(iri: str) -> None:
    # pyld drops such an IRI and every statement about its node: a signature would not cover them.
    document = unsecured(every_kind_of_credential()["single"])
    document["credentialSubject"]["id"] = iri
    with pytest.raises(CanonicalizationError, match="IRIs with spaces"):
        canonicalize(document)


# Blank nodes that only the N-degree hash tells apart.


def test_indistinguishable_blank_nodes_get_pyld_s_labels() -> None:
    # The issuer and the achievement's creator are one node with an `address` each; a second identical alignment, a
    # repeated identifier and duplicated endorsers add more blank nodes with equal first-degree hashes.
    credential = unsecured(every_kind_of_credential()["joint"])
    achievement = credential["credentialSubject"]["achievement"]
    achievement["alignment"] += copy.deepcopy(achievement["alignment"][:3])
    credential["credentialSubject"]["identifier"] *= 2
    credential["evidence"] = [{"type": ["Evidence"], "name": "part"}, {"type": ["Evidence"], "name": "part"}]
    achievement["resultDescription"].append({"type": ["ResultDescription"], "name": "Grade", "resultType": "Result",
                                             "allowedValue": ["1.0", "1.3", {"type": ["Alignment"]}, {"type": ["Alignment"]}]})
    assert_fast_path_gives_pyld_s_bytes(credential)


@pytest.mark.parametrize(
    "nquads",
    [
        # Two rings of four blank nodes and a ring of eight: first-degree hashes all equal, the N-degree hash and its
        # recursion decide.
        "".join(f"_:r{i} <urn:p> _:r{(i + 1) % 4} .\n_:s{i} <urn:p> _:s{(i + 1) % 4} .\n" for i in range(4))
        + "".join(f"_:t{i} <urn:p> _:t{(i + 1) % 8} .\n" for i in range(8)),
        # A star whose leaves differ only two steps away, and blank nodes as graph names.
        "".join(f'_:hub <urn:p> _:leaf{i} .\n_:leaf{i} <urn:q> _:tip{i} .\n_:tip{i} <urn:v> "{i % 2}" .\n'
                for i in range(5))
        + '_:g1 <urn:p> "x" _:g2 .\n_:g2 <urn:p> "x" _:g1 .\n<urn:a> <urn:in> _:g1 .\n',
        # A complete graph on four blank nodes (every permutation is tried).
        "".join(f"_:k{i} <urn:p> _:k{j} .\n" for i in range(4) for j in range(4) if i != j),
    ],
    ids=["rings", "star-and-graphs", "complete"],
)
def test_rdfc_labels_hard_graphs_as_pyld_does(nquads: str) -> None:
    quads = []
    for line in nquads.splitlines():
        terms = line.removesuffix(" .").split(" ")
        quads.append((terms[0], terms[1], terms[2], terms[3] if len(terms) > 3 else ""))
    expected = URDNA2015().main(parse_nquads(nquads), {"format": "application/n-quads"})
    assert rdfc.canonical_nquads(quads) == expected


@pytest.mark.parametrize("ects", [1e-7, 2**-24, 2**53 + 1, 1e21])
def test_a_number_other_verifiers_would_write_differently_is_not_signed(ects: float) -> None:
    # jsonld.js writes 1e-7 as "0" (it takes a number without "." for an integer), rounds 16-digit ties up where
    # pyld rounds to even, and reads integers beyond 2^53 as other numbers: such a signature would fail elsewhere.
    with pytest.raises(ValueError, match="written alike"):
        open_badge_credential_json(random_record(random.Random(1)).model_copy(update={"workload_ects": ects}),
                                   "urn:uuid:1", SAARLAND, ISSUED_AT)
    document = unsecured(every_kind_of_credential()["single"])
    document["credentialSubject"]["creditsEarned"] = ects
    with pytest.raises(ValueError, match=r"numbers at \$\.credentialSubject\.creditsEarned"):
        sign(document, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)
    assert canonicalize(document) == plain_pyld(document)  # a credential from elsewhere is still read as pyld reads it


def test_one_second_later_is_another_signature() -> None:
    # The proof configuration is canonicalized too: its `created` is covered.
    document = unsecured(every_kind_of_credential()["single"])
    first = sign(document, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)
    later = sign(document, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT + timedelta(seconds=1))
    assert first["proof"][0]["proofValue"] != later["proof"][0]["proofValue"]
    moved = copy.deepcopy(first)
    moved["proof"][0]["created"] = later["proof"][0]["created"]
    assert not verify(moved, RESOLVE, now=datetime.now(UTC)).verified
