"""W3C Bitstring Status List v1.0: the bitstrings that say which credentials are revoked or suspended.

Every credential an institution issues here holds one index, the same in the institution's two lists (revocation and
suspension), chosen at random among the free ones: sequential indexes would tell anyone who sees two credentials
which was issued first and how many were issued in between. Its `credentialStatus` is its entry in the revocation list
(Open Badges 3.0 allows one entry); its bit in the suspension list is implied. A list is published as a signed
`BitstringStatusListCredential` at `{PUBLIC_URL}/status-lists/<institution>/<purpose>`, its bitstring GZIP-compressed
and multibase base64url encoded (`u...`), at least 16 KB (131072 entries) long for herd privacy. Bit 0 is the
left-most (most significant) bit of the first byte. The lists are derived from the credentials' states, never kept
as a second truth.
"""

import base64
import gzip
import secrets
import zlib
from collections.abc import Iterable, Set
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.certification.vc.contexts import VC_V2

MINIMUM_LENGTH = 131072
# The largest bitstring read (16 MiB: 134 million entries), far above any list an institution needs.
MAXIMUM_BYTES = 16 * 1024 * 1024


class StatusPurpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


class InvalidStatusList(ValueError):
    """An encodedList that is not multibase base64url GZIP data."""


class ListFull(Exception):
    """Every index of the institution's lists is taken."""


def random_free_index(used: Set[int], length: int) -> int:
    """A random index in [0, length) that is not in `used` (raises ListFull when there is none)."""
    if len(used) >= length:
        raise ListFull(f"all {length} entries are taken")
    if len(used) < length * 0.9:  # Fewer than ten draws expected.
        while (index := secrets.randbelow(length)) in used:
            pass
        return index
    return secrets.choice([index for index in range(length) if index not in used])


def bitstring(length: int, set_indexes: Iterable[int] = ()) -> bytearray:
    if length % 8:
        raise ValueError("a status list's length is a whole number of bytes")
    bits = bytearray(length // 8)
    for index in set_indexes:
        set_bit(bits, index, True)
    return bits


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside the list of {len(bits) * 8} entries")
    mask = 0x80 >> (index % 8)
    if value:
        bits[index // 8] |= mask
    else:
        bits[index // 8] &= ~mask & 0xFF


def get_bit(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside the list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def encode(bits: bytes) -> str:
    """GZIP, then multibase base64url without padding ('u' prefix), as the specification requires."""
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode(encoded: str, max_bytes: int = MAXIMUM_BYTES) -> bytes:
    """The bitstring; at most `max_bytes` of it are unpacked (lists come from other nodes too: a few kilobytes of
    GZIP can unpack to gigabytes)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise InvalidStatusList("encodedList must be multibase base64url (it starts with 'u')")
    body = encoded[1:]
    try:
        unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP framing
        bits = unpacker.decompress(
            base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True), max_bytes
        )
    except (ValueError, zlib.error) as error:
        raise InvalidStatusList(f"encodedList is not base64url GZIP data: {error}") from error
    if unpacker.unconsumed_tail:
        raise InvalidStatusList(f"encodedList unpacks to more than {max_bytes} bytes")
    if not unpacker.eof:
        raise InvalidStatusList("encodedList is not base64url GZIP data: it ends before its GZIP stream does")
    if not bits:
        raise InvalidStatusList("encodedList holds an empty bitstring")
    return bits


def list_url(public_url: str, institution: str, purpose: StatusPurpose) -> str:
    return f"{public_url.rstrip('/')}/status-lists/{institution}/{purpose}"


def status_entry(public_url: str, institution: str, index: int, purpose: StatusPurpose) -> dict[str, Any]:
    """A BitstringStatusListEntry: the credential's bit in the institution's list for the purpose."""
    url = list_url(public_url, institution, purpose)
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": str(purpose),
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def with_implied_suspension(entries: list[Any]) -> list[Any]:
    """A credential carries one status entry, for revocation (Open Badges 3.0 allows one `credentialStatus`); the
    same index in the institution's suspension list is implied, and added here when the credential names none."""
    dicts = [entry for entry in entries if isinstance(entry, dict)]
    if any(entry.get("statusPurpose") == StatusPurpose.SUSPENSION for entry in dicts):
        return entries
    implied = []
    for entry in dicts:
        url = entry.get("statusListCredential")
        revocation = f"/{StatusPurpose.REVOCATION}"
        if entry.get("statusPurpose") == StatusPurpose.REVOCATION and isinstance(url, str) and url.endswith(revocation):
            suspension_url = url.removesuffix(revocation) + f"/{StatusPurpose.SUSPENSION}"
            suspension_id = f"{suspension_url}#{entry.get('statusListIndex')}"
            implied.append({**entry, "id": suspension_id, "statusPurpose": str(StatusPurpose.SUSPENSION),
                            "statusListCredential": suspension_url})
    return entries + implied


def status_list_credential(
    url: str, issuer: str, purpose: StatusPurpose, bits: bytes, valid_from: str
) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential of one list (sign it with `vc.proof.sign`)."""
    return {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": str(purpose),
            "encodedList": encode(bits),
        },
    }


def entry_bit(status_list: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether a credential's status entry is set in the (already verified) status list credential."""
    subject = status_list.get("credentialSubject", {})
    if subject.get("statusPurpose") != entry.get("statusPurpose"):
        raise InvalidStatusList(
            f"the list is for {subject.get('statusPurpose')!r}, the entry for {entry.get('statusPurpose')!r}"
        )
    try:
        index = int(entry["statusListIndex"])
    except (KeyError, TypeError, ValueError):
        raise InvalidStatusList("the entry's statusListIndex is not a number") from None
    return get_bit(decode(subject.get("encodedList", "")), index)


def xsd_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
