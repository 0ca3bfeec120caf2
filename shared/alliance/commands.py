"""The secretariat's commands, and a node administrator's checks: `python -m shared.alliance <command>`.

    keys --dir DIR                        the alliance's Ed25519 key pair (alliance-private.pem is 0600; never replaced)
    init --id t4eu --name NAME            a new, empty registry (serial 0)
    add-member --institution ... --node ...   a member, and its node if the node is new
    remove-member --institution ID        a member (and its node, once it hosts no one)
    sign --key alliance-private.pem       next serial, issued now, expires in --valid-days; writes <registry>.jws
    verify --public-key FILE              what a node would say of it (a file or an https URL)
    show                                  members and nodes, for people
    schema [--check]                      write (or compare) registry.schema.json from the models

Every command works on `--registry` (default `alliance-registry.json`). Editing commands refuse a change that
would make the registry invalid, and leave the signature stale: `sign` is always the last step.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from pydantic import ValidationError

from shared.alliance.loader import Fetched, RegistryUnavailable, source_for
from shared.alliance.models import SCHEMA_FILE, AllianceRegistry, json_schema
from shared.alliance.signing import (
    SIGNATURE_SUFFIX,
    RegistryRefused,
    describe,
    key_id,
    load_private_key,
    load_trusted_keys,
    sign,
    verify,
)
from shared.auth import create_keys

DEFAULT_REGISTRY = "alliance-registry.json"
DEFAULT_VALID_DAYS = 90


class CommandError(Exception):
    """A command that cannot be carried out; the message says why (printed, exit status 2)."""


# The document as a file.


def serialize(registry: AllianceRegistry) -> bytes:
    """The form the commands write: indented JSON, fields in the models' order, UTF-8, one final newline."""
    data = registry.model_dump(mode="json", exclude_none=True)
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def read_registry(path: Path) -> AllianceRegistry:
    try:
        return AllianceRegistry.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CommandError(f"{path} does not exist (create it with `init`)") from None
    except ValidationError as error:
        raise CommandError(f"{path} is not a valid registry: {describe(error)}") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file in one step, so that a node polling it never reads half of it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def unknown_fields(raw: Any, known: Any, where: str = "") -> list[str]:
    """Fields of the file the models do not know (a typo such as `legal_nmae` would otherwise vanish silently)."""
    if isinstance(raw, dict) and isinstance(known, dict):
        found = [f"{where}{key}" for key in raw if key not in known]
        return found + [name for key in raw if key in known for name in unknown_fields(raw[key], known[key], f"{where}{key}.")]
    if isinstance(raw, list) and isinstance(known, list):
        return [name for i, (r, k) in enumerate(zip(raw, known)) for name in unknown_fields(r, k, f"{where}{i}.")]
    return []


def _edited(registry: AllianceRegistry, **changes: Any) -> AllianceRegistry:
    """The registry with the changes, validated as a whole (so an edit cannot leave it inconsistent)."""
    data = registry.model_dump(mode="json", exclude_none=True) | changes
    try:
        return AllianceRegistry.model_validate(data)
    except ValidationError as error:
        raise CommandError(f"the registry would be invalid: {describe(error)}") from None


# Commands.


def create_alliance_keys(folder: Path) -> tuple[Path, Path]:
    if (folder / "alliance-private.pem").exists():
        raise CommandError(f"{folder / 'alliance-private.pem'} exists already; the alliance's key is never replaced here")
    return create_keys(folder, name="alliance")


def init(path: Path, alliance_id: str, name: str, valid_days: int, now: datetime) -> AllianceRegistry:
    if path.exists():
        raise CommandError(f"{path} exists already")
    try:
        registry = AllianceRegistry.model_validate(
            {"alliance": {"id": alliance_id, "name": name}, "serial": 0, "issued": now,
             "expires": now + timedelta(days=valid_days)}
        )
    except ValidationError as error:
        raise CommandError(describe(error)) from None
    write_atomically(path, serialize(registry))
    return registry


def add_member(path: Path, args: argparse.Namespace) -> AllianceRegistry:
    registry = read_registry(path)
    if registry.is_member(args.institution) and not args.replace:
        raise CommandError(f"{args.institution} is a member already (--replace to change its entry)")
    nodes = [node.model_dump(mode="json") for node in registry.nodes]
    existing = next((node for node in nodes if node["id"] == args.node), None)
    given = {"base_url": args.node_url, "kafka_principal": args.kafka_principal, "event_source": args.event_source}
    if existing is None:
        if not args.node_url or not args.kafka_principal:
            raise CommandError(f"node {args.node} is new: give its --node-url and --kafka-principal")
        nodes.append({"id": args.node, **given, "event_source": args.event_source or f"urn:microcredentials:node:{args.node}"})
    else:
        differing = [f"--{name.replace('_', '-')}" for name, value in given.items() if value and value != existing[name]]
        if differing:
            raise CommandError(f"node {args.node} exists with other {', '.join(differing)} (edit the node in the file)")
    member: dict[str, Any] = {
        "institution": args.institution,
        "legal_name": args.legal_name,
        "country": args.country,
        "node": args.node,
        "credential_dids": args.did,
        "token_issuers": [],
    }
    if args.token_issuer:
        issuer: dict[str, Any] = {"issuer": args.token_issuer}
        if args.token_key:
            issuer["jwks"] = {"keys": [_public_jwk(Path(file)) for file in args.token_key]}
        if args.jwks_uri:
            issuer["jwks_uri"] = args.jwks_uri
        member["token_issuers"].append(issuer)
    elif args.token_key or args.jwks_uri:
        raise CommandError("--token-key and --jwks-uri belong to a --token-issuer (the tokens' `iss`)")
    members = [m.model_dump(mode="json", exclude_none=True) for m in registry.members if m.institution != args.institution]
    updated = _edited(registry, nodes=nodes, members=[*members, member])
    write_atomically(path, serialize(updated))
    return updated


def remove_member(path: Path, institution: str) -> tuple[AllianceRegistry, list[str]]:
    registry = read_registry(path)
    if not registry.is_member(institution):
        raise CommandError(f"{institution} is not a member of {registry.alliance.name}")
    members = [m for m in registry.members if m.institution != institution]
    hosting = {m.node for m in members}
    removed_nodes = [node.id for node in registry.nodes if node.id not in hosting]
    updated = _edited(
        registry,
        members=[m.model_dump(mode="json", exclude_none=True) for m in members],
        nodes=[node.model_dump(mode="json") for node in registry.nodes if node.id in hosting],
    )
    write_atomically(path, serialize(updated))
    return updated, removed_nodes


def sign_registry(path: Path, key_file: Path, valid_days: int, now: datetime) -> AllianceRegistry:
    """Raise the serial, date it, and write the document and then its detached signature (`<path>.jws`)."""
    registry = read_registry(path)
    unknown = unknown_fields(json.loads(path.read_bytes()), registry.model_dump(mode="json", exclude_none=True))
    if unknown:
        raise CommandError(f"{path} has fields the registry does not know (typos?): {', '.join(unknown)}")
    try:
        key = load_private_key(key_file)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot use {key_file} as the alliance's key: {error}") from None
    signed = _edited(
        registry, serial=registry.serial + 1, issued=now.isoformat(), expires=(now + timedelta(days=valid_days)).isoformat()
    )
    document = serialize(signed)
    write_atomically(path, document)
    write_atomically(Path(f"{path}{SIGNATURE_SUFFIX}"), (sign(document, key) + "\n").encode())
    return signed


def verify_location(location: str, public_key_file: Path, now: datetime) -> AllianceRegistry:
    """What a node following `location` would make of it now (RegistryRefused if it would refuse it)."""
    try:
        trusted = load_trusted_keys(public_key_file)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot use {public_key_file} as the alliance's public key: {error}") from None
    fetched = _fetch(location)
    return verify(fetched.document, fetched.signature, trusted, now)


def _fetch(location: str) -> Fetched:
    async def fetch_once() -> Fetched:
        source = source_for(location)
        try:
            return await source.fetch(force=True)
        finally:
            await source.close()

    try:
        return asyncio.run(fetch_once())
    except (RegistryUnavailable, ValueError) as error:
        raise CommandError(str(error)) from None


def _public_jwk(file: Path) -> dict[str, Any]:
    """A public key file (PEM, or a JWK in JSON) as a JWK, with its thumbprint as `kid` unless it has one."""
    try:
        data = file.read_bytes()
        if data.lstrip().startswith(b"{"):
            key = JWKRegistry.import_key(json.loads(data))
        else:
            public_key = serialization.load_pem_public_key(data)
            kinds = {"OKP": Ed25519PublicKey, "EC": EllipticCurvePublicKey, "RSA": RSAPublicKey}
            key_type = next((name for name, kind in kinds.items() if isinstance(public_key, kind)), None)
            if key_type is None:
                raise ValueError(f"a {type(public_key).__name__} is not a token key (Ed25519, EC or RSA)")
            key = JWKRegistry.import_key(data, key_type)
    except (OSError, ValueError, JoseError) as error:
        raise CommandError(f"cannot read a public key from {file}: {error}") from None
    if key.is_private:
        raise CommandError(f"{file} is a private key: give the public one (a registry is public)")
    jwk = key.as_dict(private=False)
    jwk.setdefault("kid", key.thumbprint())
    return jwk


def describe_registry(registry: AllianceRegistry) -> str:
    lines = [
        f"{registry.alliance.name} ({registry.alliance.id}), serial {registry.serial}, issued "
        f"{registry.issued.isoformat()}, expires {registry.expires.isoformat()}",
    ]
    for node in registry.nodes:
        lines.append(f"node {node.id}  {node.base_url}  {node.kafka_principal}  {node.event_source}")
        for member in registry.members_of(node.id):
            issuers = ", ".join(issuer.issuer for issuer in member.token_issuers) or "no token issuer"
            lines.append(f"  {member.institution}  {member.legal_name} ({member.country})")
            lines.append(f"    DIDs: {', '.join(member.credential_dids)}")
            lines.append(f"    tokens: {issuers}")
    if not registry.members:
        lines.append("no members yet")
    return "\n".join(lines)


def write_schema(check: bool) -> bool:
    """Write registry.schema.json from the models; with check, only say whether it is current."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if check:
        return SCHEMA_FILE.exists() and SCHEMA_FILE.read_text() == text
    SCHEMA_FILE.write_text(text)
    return True


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.alliance", description="Create, edit, sign and check an alliance's registry."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, registry: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        if registry:
            sub.add_argument("--registry", default=DEFAULT_REGISTRY, help=f"the registry file (default {DEFAULT_REGISTRY})")
        return sub

    keys = command("keys", "create the alliance's Ed25519 key pair", registry=False)
    keys.add_argument("--dir", type=Path, required=True)
    init_ = command("init", "start a new, empty registry")
    init_.add_argument("--id", required=True, help="the alliance's short code, e.g. t4eu")
    init_.add_argument("--name", required=True, help="e.g. Transform4Europe")
    init_.add_argument("--valid-days", type=int, default=DEFAULT_VALID_DAYS)
    add = command("add-member", "add a member institution (and its node, if new)")
    add.add_argument("--institution", required=True, help="its code, e.g. uni-saarland")
    add.add_argument("--legal-name", required=True)
    add.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
    add.add_argument("--node", required=True, help="the id of the node that hosts it")
    add.add_argument("--node-url", help="the node's public base URL (for a new node)")
    add.add_argument("--kafka-principal", help="the node's Kafka principal, e.g. User:saarland (for a new node)")
    add.add_argument("--event-source", help="the node's CloudEvents source (default urn:microcredentials:node:<node>)")
    add.add_argument("--did", action="append", required=True, help="a DID its credentials are signed with (repeatable)")
    add.add_argument("--token-issuer", help="the `iss` of its users' tokens")
    add.add_argument("--token-key", action="append", help="a public key of that issuer, PEM or JWK (repeatable)")
    add.add_argument("--jwks-uri", help="where that issuer publishes its current keys")
    add.add_argument("--replace", action="store_true", help="replace the member's entry if it exists")
    remove = command("remove-member", "remove a member institution")
    remove.add_argument("--institution", required=True)
    sign_ = command("sign", "raise the serial and sign the registry with the alliance's key")
    sign_.add_argument("--key", type=Path, required=True, help="alliance-private.pem")
    sign_.add_argument("--valid-days", type=int, default=DEFAULT_VALID_DAYS)
    check = command("verify", "check a registry (file or https URL) as a node would")
    check.add_argument("--public-key", type=Path, required=True, help="the alliance's public key(s)")
    command("show", "print the members and nodes of a registry (file or https URL)")
    schema = command("schema", "write registry.schema.json from the models", registry=False)
    schema.add_argument("--check", action="store_true", help="only compare; exit 1 when it is stale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    path = Path(getattr(args, "registry", DEFAULT_REGISTRY))
    try:
        if args.command == "keys":
            private_path, public_path = create_alliance_keys(args.dir)
            kid = key_id(load_private_key(private_path))
            print(f"private key: {private_path} (keep it offline)\npublic key:  {public_path} (key id {kid})")
        elif args.command == "init":
            registry = init(path, args.id, args.name, args.valid_days, now)
            print(f"{path}: {registry.alliance.name}, no members yet; add them, then sign")
        elif args.command == "add-member":
            add_member(path, args)
            print(f"{path}: {args.institution} added on node {args.node}; sign to publish")
        elif args.command == "remove-member":
            _, removed_nodes = remove_member(path, args.institution)
            nodes = f" and node {', '.join(removed_nodes)}" if removed_nodes else ""
            print(f"{path}: {args.institution}{nodes} removed; sign to publish")
        elif args.command == "sign":
            registry = sign_registry(path, args.key, args.valid_days, now)
            print(f"{path}: serial {registry.serial} signed, expires {registry.expires.isoformat()}; "
                  f"publish {path} and {path}{SIGNATURE_SUFFIX} together")
        elif args.command == "verify":
            registry = verify_location(args.registry, args.public_key, now)
            print(f"valid: {registry.alliance.name}, serial {registry.serial}, {len(registry.members)} members, "
                  f"expires {registry.expires.isoformat()}")
        elif args.command == "show":
            # A draft not signed yet is shown too: a file is read alone, a URL as a node would fetch it.
            is_url = args.registry.startswith(("https://", "http://"))
            document = _fetch(args.registry).document if is_url else read_registry(path).model_dump_json().encode()
            try:
                print(describe_registry(AllianceRegistry.model_validate_json(document)))
            except ValidationError as error:
                raise CommandError(f"{args.registry} is not a valid registry: {describe(error)}") from None
        elif args.command == "schema":
            current = write_schema(args.check)
            if args.check and not current:
                print(f"{SCHEMA_FILE} is stale: run `python -m shared.alliance schema`", file=sys.stderr)
                return 1
            print(f"{SCHEMA_FILE} {'is current' if args.check else 'written'}")
    except RegistryRefused as refusal:
        print(f"refused ({refusal.reason}): {refusal}", file=sys.stderr)
        return 1
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
