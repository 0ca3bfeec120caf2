"""RDFC-1.0 (W3C RDF Dataset Canonicalization, formerly URDNA2015) over quads already in N-Quads term syntax.

`quads.py` turns a credential into quads; this module gives its blank nodes their canonical labels (`_:c14n0`, ...)
and returns the sorted canonical N-Quads, byte for byte what pyld's URDNA2015 returns for the same dataset
(`tests/test_canonical.py` compares them). It works on strings rather than pyld's dicts of dicts, which is most of
why it is faster; the algorithm is the specification's, step for step:

1. every blank node's first-degree hash: SHA-256 of the sorted N-Quads that mention it, itself written `_:a` and
   every other blank node `_:z`;
2. blank nodes with a hash of their own get canonical labels in the order of their hashes;
3. the others (a credential's issuer and achievement creator are one node with two identical `address` blank nodes)
   are told apart by the N-degree hash, which walks the blank nodes related to them.

A quad is a tuple (subject, predicate, object, graph) of N-Quads terms: `<iri>`, `_:label`, or for the object a
literal `"..."` with its suffix; graph is `""` for the default graph. Labels are the caller's, any `_:` label.
"""

import hashlib
from itertools import permutations

Quad = tuple[str, str, str, str]

_CANONICAL_PREFIX = "_:c14n"
_TEMPORARY_PREFIX = "_:b"


def canonical_nquads(quads: list[Quad]) -> str:
    """The dataset's canonical N-Quads: blank nodes relabelled by RDFC-1.0, one quad a line, lines sorted."""
    mentions: dict[str, list[Quad]] = {}
    for quad in quads:
        subject, _, obj, graph = quad
        # A quad is listed once per mention, as the algorithm's blank node to quads map does.
        if subject[0] == "_":
            mentions.setdefault(subject, []).append(quad)
        if obj[0] == "_":
            mentions.setdefault(obj, []).append(quad)
        if graph and graph[0] == "_":
            mentions.setdefault(graph, []).append(quad)
    if not mentions:
        return "".join(sorted(_line(quad) for quad in quads))

    state = _State(mentions)
    by_hash: dict[str, list[str]] = {}
    for node in mentions:
        by_hash.setdefault(state.first_degree_hash(node), []).append(node)
    canonical = state.canonical
    shared = []
    for first_hash in sorted(by_hash):
        nodes = by_hash[first_hash]
        if len(nodes) == 1:
            canonical[nodes[0]] = f"{_CANONICAL_PREFIX}{len(canonical)}"
        else:
            shared.append(nodes)
    for nodes in shared:
        results = []
        for node in nodes:
            if node in canonical:
                continue
            issuer = _Issuer(_TEMPORARY_PREFIX)
            issuer.issue(node)
            results.append(state.n_degree_hash(node, issuer))
        for _, issuer in sorted(results, key=lambda result: result[0]):
            for node in issuer.order:
                if node not in canonical:
                    canonical[node] = f"{_CANONICAL_PREFIX}{len(canonical)}"

    lines = []
    for subject, predicate, obj, graph in quads:
        if subject[0] == "_":
            subject = canonical[subject]
        if obj[0] == "_":
            obj = canonical[obj]
        if graph:
            if graph[0] == "_":
                graph = canonical[graph]
            lines.append(f"{subject} {predicate} {obj} {graph} .\n")
        else:
            lines.append(f"{subject} {predicate} {obj} .\n")
    lines.sort()
    return "".join(lines)


def _line(quad: Quad) -> str:
    subject, predicate, obj, graph = quad
    return f"{subject} {predicate} {obj} {graph} .\n" if graph else f"{subject} {predicate} {obj} .\n"


class _Issuer:
    """Issues `<prefix>0`, `<prefix>1`, ... to blank nodes, remembering the order (the specification's issuer)."""

    __slots__ = ("prefix", "issued", "order")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.issued: dict[str, str] = {}
        self.order: list[str] = []

    def issue(self, node: str) -> str:
        label = self.issued.get(node)
        if label is None:
            label = self.issued[node] = f"{self.prefix}{len(self.order)}"
            self.order.append(node)
        return label

    def copy(self) -> "_Issuer":
        duplicate = _Issuer(self.prefix)
        duplicate.issued = dict(self.issued)
        duplicate.order = list(self.order)
        return duplicate


class _State:
    def __init__(self, mentions: dict[str, list[Quad]]) -> None:
        self.mentions = mentions
        self.first_hashes: dict[str, str] = {}
        self.canonical: dict[str, str] = {}

    def first_degree_hash(self, node: str) -> str:
        known = self.first_hashes.get(node)
        if known is not None:
            return known
        lines = []
        for subject, predicate, obj, graph in self.mentions[node]:
            if subject[0] == "_":
                subject = "_:a" if subject == node else "_:z"
            if obj[0] == "_":
                obj = "_:a" if obj == node else "_:z"
            if graph:
                if graph[0] == "_":
                    graph = "_:a" if graph == node else "_:z"
                lines.append(f"{subject} {predicate} {obj} {graph} .\n")
            else:
                lines.append(f"{subject} {predicate} {obj} .\n")
        lines.sort()
        digest = self.first_hashes[node] = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
        return digest

    def _related_hash(self, related: str, predicate: str, issuer: _Issuer, position: str) -> str:
        label = self.canonical.get(related) or issuer.issued.get(related) or self.first_degree_hash(related)
        text = position + (predicate if position != "g" else "") + label
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def n_degree_hash(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        related_by_hash: dict[str, list[str]] = {}
        for subject, predicate, obj, graph in self.mentions[node]:
            for component, position in ((subject, "s"), (obj, "o"), (graph, "g")):
                if component and component[0] == "_" and component != node:
                    related_hash = self._related_hash(component, predicate, issuer, position)
                    related_by_hash.setdefault(related_hash, []).append(component)

        data = hashlib.sha256()
        for related_hash in sorted(related_by_hash):
            data.update(related_hash.encode("utf-8"))
            chosen_path = ""
            chosen_issuer = None
            for permutation in permutations(related_by_hash[related_hash]):
                issuer_copy = issuer.copy()
                path = ""
                recursion = []
                skip = False
                for related in permutation:
                    if related in self.canonical:
                        path += self.canonical[related]
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += issuer_copy.issue(related)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for related in recursion:
                    result_hash, result_issuer = self.n_degree_hash(related, issuer_copy)
                    path += issuer_copy.issue(related) + "<" + result_hash + ">"
                    issuer_copy = result_issuer
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            data.update(chosen_path.encode("utf-8"))
            assert chosen_issuer is not None  # the first permutation is never skipped
            issuer = chosen_issuer
        return data.hexdigest(), issuer
