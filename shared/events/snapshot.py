"""JSON Schema snapshots of the event contracts, and the check that a change to them breaks no one.

`python -m shared.events.snapshot` writes `schemas/<type>.json` for every registered type, and `topics.json` (which
types each topic carries: its producer's), unless a contract broke; with `--check` it only compares, and exits
non-zero listing the breaking changes (moving a type to another topic is one). A contract that must break gets a new
`.vN` type beside the old one (deleting a snapshot by hand is the deliberate way out, once no one uses the type).

The schemas are in *validation* mode: what `parse_message` accepts, the promise consumers make to every producer,
including those outside this code base (an LMS writing JSON by hand). Here the two modes give the same schemas.
"""

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.events import EVENT_TYPES

SCHEMAS = Path(__file__).parent / "schemas"
# Topic -> the event types it carries. With the schemas, the contract a node in any language is judged by
# (python -m conformance).
TOPICS = Path(__file__).parent / "topics.json"
# Keywords whose change makes a value valid on one side and invalid on the other.
CONSTRAINTS = (
    "format", "pattern", "minLength", "maxLength", "minItems", "maxItems",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
)
Schema = dict[str, Any]


def current_schemas() -> dict[str, Schema]:
    return {name: event_class.model_json_schema(mode="validation") for name, event_class in sorted(EVENT_TYPES.items())}


def current_topics() -> dict[str, list[str]]:
    """Each topic (a family such as `mc.lms.{lms}.grade-submissions` as its template) and the types it carries."""
    topics: dict[str, list[str]] = {}
    for name, event_class in sorted(EVENT_TYPES.items()):
        topics.setdefault(str(event_class.topic), []).append(name)
        # Addressed messages leave a node on one topic and arrive at the partner's on another.
        if (relayed_on := getattr(event_class, "relayed_on", None)) is not None:
            topics.setdefault(str(relayed_on), []).append(name)
    return dict(sorted(topics.items()))


def moved_types(old_topics: Mapping[str, list[str]], new_topics: Mapping[str, list[str]]) -> list[str]:
    """Types that a topic no longer carries while they still exist: their consumers would no longer find them."""
    new_homes: dict[str, set[str]] = {}
    for topic, names in new_topics.items():
        for name in names:
            new_homes.setdefault(name, set()).add(topic)
    return [
        f"{name}: moved from topic {topic} to {', '.join(sorted(new_homes[name]))}"
        for topic, names in sorted(old_topics.items())
        for name in names
        if name in new_homes and topic not in new_homes[name]
    ]


def breaking_changes(old_schemas: Mapping[str, Schema], new_schemas: Mapping[str, Schema]) -> list[str]:
    """What in `new_schemas` (event type -> schema of its data) breaks someone relying on `old_schemas`.

    Breaking: a type that disappeared, a property removed, a property's type changed (enum values removed, a
    constraint changed), a property newly required. Not breaking: a new optional property, a new enum value.
    """
    changes = []
    for event_type, old in sorted(old_schemas.items()):
        if event_type not in new_schemas:
            changes.append(f"{event_type}: the event type disappeared")
        else:
            changes += [f"{event_type}: {change}" for change in _contract_changes(old, new_schemas[event_type])]
    return changes


def _contract_changes(old_root: Schema, new_root: Schema) -> list[str]:
    changes: list[str] = []
    seen: set[tuple[int, int]] = set()  # Pairs compared already: a recursive $def ends here.

    def node(old: Schema, new: Schema, path: str) -> None:
        olds, news = _by_type(old, old_root), _by_type(new, new_root)
        if olds.keys() != news.keys():
            changes.append(f"{path}: type changed from {' | '.join(olds)} to {' | '.join(news)}")
            return
        for kind in olds:
            branch(olds[kind], news[kind], path)

    def branch(old: Schema, new: Schema, path: str) -> None:
        if (id(old), id(new)) in seen:
            return
        seen.add((id(old), id(new)))
        old_values, new_values = _values(old), _values(new)
        if new_values is not None and (old_values is None or old_values - new_values):
            lost = "any value" if old_values is None else ", ".join(sorted(map(str, old_values - new_values)))
            changes.append(f"{path}: no longer accepts {lost}")
        for keyword in CONSTRAINTS:
            if old.get(keyword) != new.get(keyword):
                changes.append(f"{path}: {keyword} changed from {old.get(keyword)} to {new.get(keyword)}")
        for keyword, suffix in (("items", "[]"), ("additionalProperties", ".*")):
            if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
                node(old[keyword], new[keyword], path + suffix)
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            changes.append(f"{path}.{name}: newly required")
        new_properties = new.get("properties", {})
        for name, schema in sorted(old.get("properties", {}).items()):
            if name in new_properties:
                node(schema, new_properties[name], f"{path}.{name}")
            else:
                changes.append(f"{path}.{name}: property removed")

    node(old_root, new_root, "data")
    return changes


def _by_type(node: Schema, root: Schema) -> dict[str, Schema]:
    """The alternatives a node allows, by JSON type, with `$ref`s resolved and `anyOf`/`oneOf` flattened."""
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _by_type(target, root)
    if alternatives := node.get("anyOf") or node.get("oneOf"):
        return {kind: branch for alternative in alternatives for kind, branch in _by_type(alternative, root).items()}
    kinds = node.get("type", "any")
    return {kind: node for kind in ([kinds] if isinstance(kinds, str) else kinds)}


def _values(node: Schema) -> set[Any] | None:
    """The values an enum or const allows; None when any value of the type goes."""
    if "const" in node:
        return {node["const"]}
    return set(node["enum"]) if "enum" in node else None


def main(argv: list[str] | None = None, folder: Path = SCHEMAS, topics_file: Path = TOPICS) -> int:
    parser = argparse.ArgumentParser(description="Snapshot the event contracts as JSON Schema, or check against them.")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a breaking change")
    args = parser.parse_args(argv)
    snapshots = {path.name.removesuffix(".json"): json.loads(path.read_text()) for path in folder.glob("*.json")}
    current = current_schemas()
    topics = current_topics()
    old_topics = json.loads(topics_file.read_text()) if topics_file.exists() else {}
    if changes := breaking_changes(snapshots, current) + moved_types(old_topics, topics):
        print("Breaking changes (publish a new .vN type beside the old one instead):", file=sys.stderr)
        print("\n".join(f"  {change}" for change in changes), file=sys.stderr)
        return 1
    stale = sorted(name for name, schema in current.items() if snapshots.get(name) != schema)
    if old_topics != topics:
        stale.append(topics_file.name)
    if args.check:
        if stale:
            print(f"Additive changes; rerun python -m shared.events.snapshot to record them: {', '.join(stale)}")
        return 0
    folder.mkdir(exist_ok=True)
    for name in stale:
        if name == topics_file.name:
            topics_file.write_text(json.dumps(topics, indent=2) + "\n")
        else:
            (folder / f"{name}.json").write_text(json.dumps(current[name], indent=2, sort_keys=True) + "\n")
        print(f"wrote {name if name == topics_file.name else name + '.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
