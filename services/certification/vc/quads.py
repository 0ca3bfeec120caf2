"""The RDF quads of a credential, straight from its JSON, for documents whose contexts are the bundled ones.

pyld's general JSON-LD processor (expansion, node map, RDF conversion) spent most of a credential's canonicalization
re-deciding, for every key of every node, what the same few contexts say. Here each active context pyld computes is
wrapped once in a `_Frame` that remembers, per term, what expansion needs (the property IRI, the value coercion, the
container, the contexts it scopes), so that turning a document into quads is a walk over its JSON with dictionary
look-ups. Contexts are still processed by pyld (`proof._Processor`, cached): only the per-node work is done here, in
the same order of decisions as pyld's expansion (type-scoped contexts reverted when entering a nested node, then the
property-scoped context applied, then the node's types' contexts), and values are deduplicated per node the way
pyld's node map does.

This is a fast path, not a second JSON-LD processor: whatever it does not handle exactly as pyld would (an inline or
unknown context, a keyword written out, `@language`, `@reverse`, index or language maps, `@json`, a blank node
identifier, a relative or otherwise unusable IRI, an undefined term, a float holding a whole number, ...) raises
`Unsupported`, and the caller canonicalizes with pyld instead, which also produces the right error for a bad
document. `tests/test_canonical.py` compares the two byte for byte on every kind of credential the node makes and on
randomized documents.
"""

import re
from collections.abc import Mapping
from typing import Any

from pyld import jsonld

from services.certification.vc.contexts import bundled_contexts
from services.certification.vc.rdfc import Quad

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_TYPE = f"<{_RDF}type>"
_RDF_FIRST = f"<{_RDF}first>"
_RDF_REST = f"<{_RDF}rest>"
_RDF_NIL = f"<{_RDF}nil>"
_RDF_LANGSTRING = _RDF + "langString"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = _XSD + "string"
_XSD_BOOLEAN = _XSD + "boolean"
_XSD_INTEGER = _XSD + "integer"
_XSD_DOUBLE = _XSD + "double"

# pyld's N-Quads escaping (pyld.nquads.escape), in one pass, for the texts that need it.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"'})
_NEEDS_ESCAPING = re.compile(r'[\\\t\n\r"]').search
# An absolute IRI as pyld's RDF conversion takes it (it drops anything else from the dataset), without its leniency for
# a trailing line break. proof.py refuses documents with other IRIs, so that nothing is left out of a signature.
ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+-.]*:[^\s]*\Z")
# Bounds on caches keyed by what documents contain (types, coerced values), so that documents sent to /verify cannot
# grow them without end.
_CACHE_LIMIT = 512


class Unsupported(Exception):
    """The document needs a JSON-LD feature the fast path leaves to pyld."""


def document_quads(document: Mapping[str, Any], process_context: Any) -> list[Quad]:
    """The document's RDF dataset as quads, with blank nodes labelled `_:n0`, `_:n1`, ... in no canonical order.

    `process_context(active_context, local_context, override_protected, propagate)` is pyld's context processing
    (with the bundled document loader); it is called only the first time a combination of contexts is met.
    """
    if not isinstance(document, Mapping) or "@context" not in document:
        raise Unsupported("not a JSON object with a @context")
    walk = _Walk()
    walk.node(_initial_frame(process_context), document, "", top=True)
    return walk.quads


def _bundled_urls(context: Any) -> tuple[str, ...]:
    urls = (context,) if isinstance(context, str) else tuple(context) if isinstance(context, list) else ()
    if not urls or not all(isinstance(url, str) and url in bundled_contexts() for url in urls):
        raise Unsupported("@context is not a list of bundled context URLs")
    return urls


# Frames: pyld's active contexts, with what the walk needs to know about each term computed once.

_INITIAL: dict[str, "_Frame"] = {}


def _initial_frame(process_context: Any) -> "_Frame":
    frame = _INITIAL.get("json-ld-1.1")
    if frame is None:
        initial = jsonld.JsonLdProcessor()._get_initial_context({"processingMode": "json-ld-1.1"})
        frame = _INITIAL["json-ld-1.1"] = _Frame(initial, process_context)
    return frame


class _Term:
    """What a key of a node means in one frame (pyld's `_expand_object` and `_expand_value` decisions for it)."""

    __slots__ = ("key", "keyword", "predicate", "value_frame", "coercion", "container_list", "container_graph",
                 "scoped", "_entry_frames")

    def __init__(self, frame: "_Frame", key: str) -> None:
        self.key = key
        if key == "@context":
            self.keyword = key
            return
        if key[:1] == "@":
            raise Unsupported(f"keyword {key} written out")  # pyld's collision rules for them are left to pyld
        expanded = frame.expand_iri(key, vocab=True)
        self.keyword = expanded if isinstance(expanded, str) and expanded.startswith("@") else None
        self._entry_frames: dict[bool, _Frame] = {}
        if self.keyword is not None:
            if self.keyword not in ("@id", "@type", "@context"):
                raise Unsupported(f"keyword {self.keyword}")
            return
        if expanded is None or not ABSOLUTE_IRI.match(expanded):
            raise Unsupported(f"term {key!r} is not defined")  # pyld drops it; proof.canonicalize refuses it
        self.predicate = f"<{expanded}>"
        mapping = frame.mappings.get(key)
        container = []
        value_frame = frame
        if mapping is not None:
            _check_mapping(mapping)
            container = mapping.get("@container") or []
            if "@context" in mapping:
                value_frame = frame.child(("term", key), mapping["@context"], override_protected=True, propagate=True)
        if not set(container) <= {"@set", "@list", "@graph"} or {"@list", "@graph"} <= set(container):
            raise Unsupported(f"container {container}")
        self.container_list = "@list" in container
        self.container_graph = "@graph" in container
        # Values are expanded in the term's own (possibly scoped) context: its definition there decides.
        value_mapping = value_frame.mappings.get(key)
        if value_mapping is not None:
            _check_mapping(value_mapping)
            if ("@list" in (value_mapping.get("@container") or [])) != self.container_list:
                raise Unsupported("container redefined by a scoped context")
        self.value_frame = value_frame
        self.coercion = value_mapping.get("@type") if value_mapping is not None else None
        if self.coercion in ("@json", "@none", _RDF_LANGSTRING):
            raise Unsupported(f"coercion {self.coercion}")
        self.scoped = value_mapping.get("@context") if value_mapping is not None else None

    def entry_frame(self, revert: bool) -> "_Frame":
        """The frame a node object under this key starts in, before its types' contexts (pyld's `_expand`)."""
        frame = self._entry_frames.get(revert)
        if frame is None:
            frame = self.value_frame.reverted if revert else self.value_frame
            if self.scoped is not None:
                frame = frame.child(("scoped", self.key), self.scoped, override_protected=True, propagate=True)
            self._entry_frames[revert] = frame
        return frame


def _check_mapping(mapping: Mapping[str, Any]) -> None:
    if mapping.get("reverse") or any(
        key in mapping for key in ("@language", "@direction", "@index", "@nest")
    ):
        raise Unsupported("term definition with @reverse, @language, @direction, @index or @nest")


class _Frame:
    """One of pyld's active contexts and what has been worked out about it."""

    def __init__(self, context: Mapping[str, Any], process_context: Any) -> None:
        if "@language" in context or "@direction" in context:
            raise Unsupported("default language or direction")
        self.context = context
        self.mappings: Mapping[str, Any] = context["mappings"]
        self.process_context = process_context
        self.terms: dict[str, _Term] = {}
        self.children: dict[Any, tuple[Any, _Frame]] = {}
        self.contexts: dict[tuple[str, ...], _Frame] = {}
        self.types: dict[str, str] = {}
        self.vocab_values: dict[str, str] = {}
        self.prefixes = {term for term, mapping in self.mappings.items() if mapping and mapping.get("_prefix")}
        # The keys that expand to @type here (pyld looks for them before applying the types' contexts).
        self.type_aliases = tuple(
            term for term, mapping in self.mappings.items() if mapping and mapping.get("@id") == "@type"
        )
        self.typed_frames: dict[tuple[str, ...], _Frame] = {}
        self._reverted: _Frame | None = None

    @property
    def non_propagated(self) -> bool:
        return "previousContext" in self.context

    @property
    def reverted(self) -> "_Frame":
        """The frame without the contexts of the enclosing node's types (they do not propagate)."""
        if self._reverted is None:
            previous = self.context.get("previousContext")
            self._reverted = self if previous is None else _Frame(previous, self.process_context)
        return self._reverted

    def child(self, key: Any, local_context: Any, override_protected: bool, propagate: bool) -> "_Frame":
        """This frame with `local_context` processed on top; cached by `key` and the context object's identity."""
        cached = self.children.get(key)
        if cached is not None and cached[0] is local_context:
            return cached[1]
        try:
            processed = self.process_context(self.context, local_context, override_protected, propagate)
        except jsonld.JsonLdError as error:
            raise Unsupported(str(error)) from error
        frame = _Frame(processed, self.process_context)
        if len(self.children) < _CACHE_LIMIT:
            self.children[key] = (local_context, frame)
        return frame

    def with_context(self, context: Any) -> "_Frame":
        """This frame with a node's own `@context` (bundled URLs only) processed on top, as pyld does."""
        urls = _bundled_urls(context)
        frame = self.contexts.get(urls)
        if frame is None:
            try:
                processed = self.process_context(self.context, list(urls), False, True)
            except jsonld.JsonLdError as error:
                raise Unsupported(str(error)) from error
            frame = _Frame(processed, self.process_context)
            if len(self.contexts) < _CACHE_LIMIT:
                self.contexts[urls] = frame
        return frame

    def term(self, key: str) -> _Term:
        term = self.terms.get(key)
        if term is None:
            term = _Term(self, key)
            if key in self.mappings and len(self.terms) < _CACHE_LIMIT:
                self.terms[key] = term
        return term

    def typed(self, types: tuple[str, ...]) -> "_Frame":
        """This frame with the contexts of the node's types applied, in their sorted order (pyld's)."""
        frame = self.typed_frames.get(types)
        if frame is None:
            frame = self
            for type_ in sorted(types):
                mapping = self.mappings.get(type_)
                scoped = mapping.get("@context") if mapping else None
                if scoped is not None and scoped is not False:
                    frame = frame.child(("type", type_), scoped, override_protected=False, propagate=False)
            if len(self.typed_frames) < _CACHE_LIMIT:
                self.typed_frames[types] = frame
        return frame

    def type_iri(self, value: Any) -> str:
        iri = self.types.get(value)
        if iri is None:
            if not isinstance(value, str):
                raise Unsupported("a type that is not a string")
            iri = self.expand_iri(value, vocab=True)
            if not isinstance(iri, str) or iri.startswith("_:") or not ABSOLUTE_IRI.match(iri):
                raise Unsupported(f"type {value!r}")
            iri = f"<{iri}>"
            if len(self.types) < _CACHE_LIMIT:
                self.types[value] = iri
        return iri

    def vocab_iri(self, value: str) -> str:
        iri = self.vocab_values.get(value)
        if iri is None:
            expanded = self.expand_iri(value, vocab=True)
            if not isinstance(expanded, str) or expanded.startswith("_:") or not ABSOLUTE_IRI.match(expanded):
                raise Unsupported(f"value {value!r} is not an absolute IRI")
            iri = f"<{expanded}>"
            if len(self.vocab_values) < _CACHE_LIMIT:
                self.vocab_values[value] = iri
        return iri

    def node_iri(self, value: Any) -> str:
        """An `@id` (or a value coerced to one), as pyld expands it with no base IRI."""
        if not isinstance(value, str):
            raise Unsupported("an @id that is not a string")
        prefix, colon, _ = value.partition(":")
        if colon and prefix in self.prefixes:
            value = self.expand_iri(value, vocab=False)
        if value.startswith("_:") or not ABSOLUTE_IRI.match(value):
            raise Unsupported(f"identifier {value!r} is a blank node, relative or not an IRI")
        return f"<{value}>"

    def expand_iri(self, value: str, vocab: bool) -> Any:
        return _PROCESSOR._expand_iri(self.context, value, base=None, vocab=vocab)


_PROCESSOR = jsonld.JsonLdProcessor()


# The walk: pyld's expansion, node map and RDF conversion in one pass, for what the frames allow.


class _Walk:
    def __init__(self) -> None:
        self.quads: list[Quad] = []
        self.seen: set[tuple[Any, ...]] = set()
        self.blank_nodes = 0

    def blank_node(self) -> str:
        label = f"_:n{self.blank_nodes}"
        self.blank_nodes += 1
        return label

    def add(self, subject: str, predicate: str, obj: str, graph: str, identity: Any) -> None:
        """One quad, unless the node already has this value for the property (pyld's node map keeps one)."""
        key = (graph, subject, predicate, identity)
        if key not in self.seen:
            self.seen.add(key)
            self.quads.append((subject, predicate, obj, graph))

    def node(self, frame: "_Frame", element: Mapping[str, Any], graph: str, top: bool = False) -> str:
        """Adds the node object's quads to `graph`; returns its subject (IRI or new blank node)."""
        if "@context" in element:
            frame = frame.with_context(element["@context"])
        elif top:
            raise Unsupported("no @context")
        type_key = None
        for alias in frame.type_aliases:
            if alias in element:
                if type_key is not None:
                    raise Unsupported("more than one key for @type")
                type_key = alias
        types: tuple[str, ...] = ()
        node_frame = frame
        if type_key is not None:
            value = element[type_key]
            types = tuple(value) if isinstance(value, list) else (value,)
            if not types or not all(isinstance(type_, str) for type_ in types):
                raise Unsupported("types that are not a non-empty list of strings")
            node_frame = frame.typed(types)

        terms = node_frame.terms
        subject = None
        values = []
        for key, value in element.items():
            term = terms.get(key) or node_frame.term(key)
            keyword = term.keyword
            if keyword is None:
                if key == type_key:
                    raise Unsupported("a type key that a type-scoped context redefines")
                values.append((term, value))
            elif keyword == "@id":
                if subject is not None:
                    raise Unsupported("more than one @id")
                subject = node_frame.node_iri(value)
            elif keyword == "@type":
                if key != type_key:
                    raise Unsupported("a type key that only a type-scoped context defines")
        if subject is None:
            subject = self.blank_node()
        for type_ in types:
            iri = frame.types.get(type_) or frame.type_iri(type_)  # expanded before the types' contexts apply
            self.add(subject, _RDF_TYPE, iri, graph, ("@type", iri))
        for term, value in values:
            self.property(term, subject, value, graph)
        return subject

    def property(self, term: _Term, subject: str, value: Any, graph: str) -> None:
        if value is None:
            return
        if term.container_list:
            items = value if isinstance(value, list) else [value]
            head = self.list(term, [item for item in items if item is not None], graph)
            # pyld's node map never merges lists: each is added.
            self.quads.append((subject, term.predicate, head, graph))
            return
        for item in value if isinstance(value, list) else (value,):
            if item is None:
                continue
            if isinstance(item, list):
                raise Unsupported("a list inside a list")
            if term.container_graph:
                if not isinstance(item, dict):
                    raise Unsupported("a graph container holding a value")
                graph_name = self.blank_node()
                self.add(subject, term.predicate, graph_name, graph, graph_name)
                self.node(self.entry_frame(term, item), item, graph_name)
            else:
                obj, identity = self.object(term, item, graph)
                self.add(subject, term.predicate, obj, graph, identity)

    def list(self, term: _Term, items: list[Any], graph: str) -> str:
        """An RDF collection of the items (values or nodes); its head, or rdf:nil when empty."""
        if not items:
            return _RDF_NIL
        nodes = [self.blank_node() for _ in items]
        for index, item in enumerate(items):
            if isinstance(item, list):
                raise Unsupported("a list inside a list")
            obj, _ = self.object(term, item, graph)
            self.quads.append((nodes[index], _RDF_FIRST, obj, graph))
            self.quads.append((nodes[index], _RDF_REST, nodes[index + 1] if index + 1 < len(nodes) else _RDF_NIL, graph))
        return nodes[0]

    def object(self, term: _Term, item: Any, graph: str) -> tuple[str, Any]:
        """The N-Quads term for a value of the property, and what pyld's node map compares it by."""
        coercion = term.coercion
        if isinstance(item, dict) or not isinstance(item, str | int | float) and isinstance(item, Mapping):
            node = self.node(self.entry_frame(term, item), item, graph)
            return node, node
        if isinstance(item, str):
            if coercion == "@id":
                iri = term.value_frame.node_iri(item)
                return iri, iri
            if coercion == "@vocab":
                iri = term.value_frame.vocab_iri(item)
                return iri, iri
            datatype = coercion
            if datatype is None or datatype == _XSD_STRING:
                return f'"{_escaped(item)}"', (item, False, datatype)
            if datatype == _XSD_DOUBLE:
                return _literal(_double_text(item), datatype), (item, False, datatype)
            return _literal(item, datatype), (item, False, datatype)
        datatype = coercion if coercion not in ("@id", "@vocab") else None
        # pyld's order of cases (`_object_to_rdf`): booleans, non-integral doubles, anything typed xsd:double, whole
        # numbers from 10^21 on as doubles, other whole numbers (floats too) as integers.
        if isinstance(item, bool):
            return _literal("true" if item else "false", datatype or _XSD_BOOLEAN), (item, True, datatype)
        if isinstance(item, int | float) and item == item and abs(item) != float("inf"):
            identity = (item, False, datatype)
            if isinstance(item, float) and not item.is_integer():
                return _literal(jsonld._canonicalize_double(item), datatype or _XSD_DOUBLE), identity
            if datatype == _XSD_DOUBLE:
                return _literal(jsonld._canonicalize_double(float(item)), datatype), identity
            if abs(item) >= 1e21:
                return _literal(jsonld._canonicalize_double(item), datatype or _XSD_DOUBLE), identity
            return _literal(str(int(item)), datatype or _XSD_INTEGER), identity
        raise Unsupported(f"value {item!r}")

    def entry_frame(self, term: _Term, element: Mapping[str, Any]) -> _Frame:
        """pyld keeps the enclosing node's type-scoped context for a node that is only a reference (`{"id": ...}`)
        and reverts it for any other."""
        revert = True
        if term.value_frame.non_propagated and len(element) == 1:
            (key,) = element
            if key != "@context" and term.value_frame.term(key).keyword == "@id":
                revert = False
        return term.entry_frame(revert)


def _escaped(text: str) -> str:
    return text.translate(_ESCAPES) if _NEEDS_ESCAPING(text) else text


def _literal(text: str, datatype: str) -> str:
    if datatype == _XSD_STRING:
        return f'"{_escaped(text)}"'
    return f'"{_escaped(text)}"^^<{datatype}>'


def _double_text(value: str) -> str:
    """A string coerced to xsd:double, as pyld writes it: canonical when Python reads it as a number, else as is."""
    try:
        return jsonld._canonicalize_double(float(value))
    except ValueError:
        return value
