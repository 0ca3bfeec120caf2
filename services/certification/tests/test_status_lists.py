"""Bitstring Status Lists: the bits a verifier reads are the ones set, encoded as the W3C specification says."""

import base64
import gzip

import pytest

from services.certification import status_lists
from services.certification.status_lists import InvalidStatusList, StatusPurpose


def test_bit_zero_is_the_left_most_bit_of_the_first_byte() -> None:
    bits = status_lists.bitstring(16, [0, 9])
    assert bytes(bits) == bytes([0b1000_0000, 0b0100_0000])
    assert [status_lists.get_bit(bits, index) for index in range(16)] == [i in (0, 9) for i in range(16)]


def test_a_bit_is_set_and_cleared_without_touching_its_neighbours() -> None:
    bits = status_lists.bitstring(16, [3, 4, 5])
    status_lists.set_bit(bits, 4, False)
    assert [i for i in range(16) if status_lists.get_bit(bits, i)] == [3, 5]
    with pytest.raises(IndexError):
        status_lists.set_bit(bits, 16, True)


def test_the_list_is_gzip_then_multibase_base64url_without_padding_and_decodes_back() -> None:
    bits = status_lists.bitstring(status_lists.MINIMUM_LENGTH, [7, 94567, 131071])
    encoded = status_lists.encode(bits)
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    body = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert len(raw) == 16 * 1024, "at least 16 KB, as the specification requires for herd privacy"
    assert status_lists.decode(encoded) == bytes(bits)


@pytest.mark.parametrize("encoded", ["", "zabc", "u!!!", "u" + base64.urlsafe_b64encode(b"not gzip").decode()])
def test_an_encoded_list_that_is_not_base64url_gzip_is_refused(encoded: str) -> None:
    with pytest.raises(InvalidStatusList):
        status_lists.decode(encoded)


def test_a_list_that_unpacks_beyond_the_limit_is_refused_without_unpacking_it_whole() -> None:
    # 64 MiB of zeros pack into ~64 KB: another node's list could be such a bomb.
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 1024 * 1024))).decode().rstrip("=")
    assert len(bomb) < 100_000
    with pytest.raises(InvalidStatusList, match=f"unpacks to more than {status_lists.MAXIMUM_BYTES} bytes"):
        status_lists.decode(bomb)
    truncated = status_lists.encode(status_lists.bitstring(status_lists.MINIMUM_LENGTH))[:-8]
    with pytest.raises(InvalidStatusList):
        status_lists.decode(truncated)


def test_a_credential_carries_its_revocation_entry_and_the_same_index_in_the_suspension_list_is_implied() -> None:
    revocation = status_lists.status_entry("https://node.example/", "uni-saarland", 42, StatusPurpose.REVOCATION)
    assert revocation == {
        "id": "https://node.example/status-lists/uni-saarland/revocation#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": "https://node.example/status-lists/uni-saarland/revocation",
    }
    suspension = status_lists.status_entry("https://node.example", "uni-saarland", 42, StatusPurpose.SUSPENSION)
    assert status_lists.with_implied_suspension([revocation]) == [revocation, suspension]
    assert status_lists.with_implied_suspension([revocation, suspension]) == [revocation, suspension]
    foreign = {**revocation, "statusListCredential": "https://elsewhere.example/lists/7"}
    assert status_lists.with_implied_suspension([foreign]) == [foreign], "only this platform's lists imply one"


def test_an_entry_is_read_from_the_list_of_its_purpose_only() -> None:
    url = "https://node.example/status-lists/uni-saarland/revocation"
    listed = status_lists.status_list_credential(
        url,
        "did:web:node.example",
        StatusPurpose.REVOCATION,
        status_lists.bitstring(131072, [42]),
        "2026-01-01T00:00:00Z",
    )
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    revocation = status_lists.status_entry("https://node.example", "uni-saarland", 42, StatusPurpose.REVOCATION)
    suspension = status_lists.status_entry("https://node.example", "uni-saarland", 42, StatusPurpose.SUSPENSION)
    assert status_lists.entry_bit(listed, revocation) is True
    assert status_lists.entry_bit(listed, {**revocation, "statusListIndex": "41"}) is False
    with pytest.raises(InvalidStatusList):
        status_lists.entry_bit(listed, suspension)


def test_indexes_are_handed_out_at_random_never_twice() -> None:
    used: set[int] = set()
    handed_out = []
    for _ in range(1000):
        index = status_lists.random_free_index(used, status_lists.MINIMUM_LENGTH)
        used.add(index)
        handed_out.append(index)
    assert len(set(handed_out)) == 1000
    assert handed_out != sorted(handed_out), "the order of issuing does not show in the indexes"


def test_the_last_free_indexes_are_found_and_a_full_list_says_so() -> None:
    length = status_lists.MINIMUM_LENGTH
    used = set(range(length)) - {5, 70000, length - 1}
    last = {status_lists.random_free_index(used, length) for _ in range(50)}
    assert last <= {5, 70000, length - 1}
    with pytest.raises(status_lists.ListFull):
        status_lists.random_free_index(set(range(length)), length)
