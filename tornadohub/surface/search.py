"""Lexical, deterministic tool search: BM25 over names, descriptions and parameters.

Why hand-written rather than a library: the well-known Python BM25 packages
build an immutable index over a whole corpus (every change means a rebuild)
and bring numpy; a hub's catalog changes one server at a time, and the whole
ranker here is about as long as the glue a library would need. No network, no
model, no dependency.

How a tool becomes a document (:func:`tool_terms`):

* text is split on anything not a letter or digit, then on ``camelCase``
  and letter/digit boundaries (``server__get_fileContents`` gives ``server``,
  ``get``, ``file``, ``contents``; a mixed-case word is also kept whole),
  lower-cased, stop words dropped, and reduced by a light suffix stemmer
  (:func:`stem`: plurals, ``-ing``, ``-ed``, ``-ation``, final ``e``), so
  "searching files" meets ``search_file``;
* the terms are counted per field (:data:`FIELDS`): the tool's own name and
  title, the server's name, the description, and the input schema's top-level
  parameter names and descriptions.

Ranking is BM25F: per field, term counts are weighted and normalised by the
field's length against its catalog average, summed, then saturated (k1 = 1.2)
and multiplied by the usual non-negative idf. Names weigh 3 and are barely
length-normalised, so a long description cannot drown a tool whose name says
what the query asks. A query term of 4 or more characters that no tool
contains is replaced by the index terms it begins, at half weight (``kube``
finds ``kubectl`` and ``kubernetes``). Counts and lengths are integers and a
document's score depends only on it and the catalog's totals, so the ranking
does not depend on the order servers came and went; ties are broken by public
name.

The index is incremental: :meth:`ToolIndex.replace_server` re-tokenizes one
server's tools only, and what depends on the whole catalog (average field
lengths, idf, the sorted vocabulary) is recomputed lazily on the next search.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchHit", "ToolIndex", "query_terms", "stem", "tokenize", "tool_terms"]

K1 = 1.2
PREFIX_MIN = 4
PREFIX_WEIGHT = 0.5
PREFIX_MAX_TERMS = 32


@dataclass(frozen=True)
class Field:
    """A part of a tool definition: its weight and how much its length is normalised."""

    name: str
    weight: float
    b: float


#: BM25F fields, in the order of a document's per-field counts.
FIELDS = (
    Field("name", 3.0, 0.3),  # the tool's own name and title: short, the strongest signal
    Field("server", 1.0, 0.0),
    Field("description", 1.0, 0.75),
    Field("parameters", 1.0, 0.75),  # top-level parameter names and their descriptions
)
NAME, SERVER, DESCRIPTION, PARAMETERS = range(len(FIELDS))

_WORD = re.compile(r"[A-Za-z0-9]+")
# camelCase, PascalCase, ACRONYMWord, digits
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_VOWEL = re.compile(r"[aeiouy]")

STOP_WORDS = frozenset(
    """
    a an and any are as at be by can could do does for from how i if in into is it its
    me my of on or our please should so some such than that the their them then there
    these this those to use using via want was we what when where which while who will
    with would you your
    """.split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case words of *text*, split at punctuation, ``_``, camelCase and digits.

    A mixed-case word is also kept whole (``JavaScript`` gives ``java``, ``script``
    and ``javascript``), since people write it both ways.
    """
    tokens: list[str] = []
    for word in _WORD.findall(text):
        if word.isalpha() and (word.islower() or word.isupper()):
            tokens.append(word.lower())  # the common case, without the second regex
            continue
        parts = _PART.findall(word)
        tokens.extend(part.lower() for part in parts)
        if len(parts) > 1 and word.isalpha():
            tokens.append(word.lower())
    return tokens


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English suffix stemmer: enough for plurals and verb forms of tool words.

    ``files``/``file`` -> ``fil``, ``searching``/``searches`` -> ``search``,
    ``created``/``creation``/``create`` -> ``creat``, ``running`` -> ``run``.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            word = base
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running -> run, committed -> commit
            break
    if word.endswith("ation") and len(word) > 7:
        word = word[:-5] + "at"
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _terms(text: str) -> list[str]:
    return [stem(token) for token in tokenize(text) if token not in STOP_WORDS]


def query_terms(query: str) -> list[str]:
    """The distinct index terms of a query, in order."""
    return list(dict.fromkeys(_terms(query)))


def tool_terms(tool: Mapping[str, Any], name: str, server: str) -> dict[str, list[int]]:
    """Term counts per field (:data:`FIELDS` order) of one tool; *name*: the upstream's own."""
    counts: dict[str, list[int]] = {}

    def add(text: Any, field_index: int) -> None:
        if isinstance(text, str) and text:
            for term in _terms(text):
                per_field = counts.get(term)
                if per_field is None:
                    per_field = counts[term] = [0] * len(FIELDS)
                per_field[field_index] += 1

    add(name, NAME)
    add(tool.get("title"), NAME)
    annotations = tool.get("annotations")
    if isinstance(annotations, Mapping) and annotations.get("title") != tool.get("title"):
        add(annotations.get("title"), NAME)
    add(server, SERVER)
    add(tool.get("description"), DESCRIPTION)
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if isinstance(properties, Mapping):
        for parameter, spec in properties.items():
            add(parameter, PARAMETERS)
            if isinstance(spec, Mapping):
                add(spec.get("description"), PARAMETERS)
    return counts


@dataclass(frozen=True)
class SearchHit:
    """One ranked tool: its public name, server, score and published definition."""

    name: str
    server: str
    score: float
    definition: Mapping[str, Any]


@dataclass
class _Document:
    server: str
    original: str
    definition: Mapping[str, Any]
    terms: dict[str, list[int]]  # term -> count per field
    lengths: list[int]  # terms per field


@dataclass
class _ServerEntry:
    tools: Sequence[tuple[str, Mapping[str, Any]]]
    keys: list[str] = field(default_factory=list)


class ToolIndex:
    """An incremental BM25F index of tools, keyed by public name, grouped by server."""

    def __init__(self) -> None:
        self._docs: dict[str, _Document] = {}
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._servers: dict[str, _ServerEntry] = {}
        self._field_lengths = [0] * len(FIELDS)  # summed over all documents
        # derived from the whole catalog, rebuilt on the first search after a change
        self._averages: list[float] | None = None
        self._norms: dict[str, list[float]] = {}
        self._weights: dict[str, list[tuple[str, float]]] = {}
        self._vocabulary: list[str] | None = None

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def servers(self) -> list[str]:
        return list(self._servers)

    # -- updates ------------------------------------------------------------

    def replace_server(self, server: str, tools: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Index *server*'s tools, replacing what it had.

        Each tool is ``(its upstream's own name, its published definition)``; the
        definition's ``name`` is the public name results are keyed by. A public
        name already taken by another server's tool is skipped (the catalog
        never publishes two tools under one name). A tool whose definition did
        not change keeps its terms: after a ``list_changed`` only the changed
        tools are tokenized again.
        """
        previous = self._servers.pop(server, None)
        old_keys = set(previous.keys) if previous else set()
        entry = _ServerEntry(tools=tools)
        incoming: list[tuple[str, str, Mapping[str, Any]]] = []
        for original, definition in tools:
            key = definition.get("name")
            if not isinstance(key, str):
                continue
            old = self._docs.get(key) if key in old_keys else None
            if old is not None and old.original == original and old.definition == definition:
                old_keys.discard(key)  # unchanged: its terms and postings stay as they are
                entry.keys.append(key)
            else:
                incoming.append((key, original, definition))
        for key in old_keys:
            self._remove_document(key)
        for key, original, definition in incoming:
            if key not in self._docs:
                self._add_document(key, server, original, definition)
                entry.keys.append(key)
        self._servers[server] = entry
        if old_keys or incoming:
            self._invalidate()

    def remove_server(self, server: str) -> None:
        entry = self._servers.pop(server, None)
        if entry is None:
            return
        for key in entry.keys:
            self._remove_document(key)
        self._invalidate()

    def _add_document(
        self, key: str, server: str, original: str, definition: Mapping[str, Any]
    ) -> None:
        terms = tool_terms(definition, original, server)
        lengths = [sum(counts[i] for counts in terms.values()) for i in range(len(FIELDS))]
        self._docs[key] = _Document(server, original, definition, terms, lengths)
        for term, counts in terms.items():
            self._postings.setdefault(term, {})[key] = counts
        for i, length in enumerate(lengths):
            self._field_lengths[i] += length

    def _remove_document(self, key: str) -> None:
        document = self._docs.pop(key)
        for i, length in enumerate(document.lengths):
            self._field_lengths[i] -= length
        for term in document.terms:
            postings = self._postings[term]
            del postings[key]
            if not postings:
                del self._postings[term]

    def sync(self, catalog: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]) -> list[str]:
        """Make the index hold exactly *catalog* (server -> tools); return the servers re-indexed.

        A server whose tool list is the same object or equal to the indexed one
        is left alone, and within a changed server only the changed tools are
        tokenized again, so a catalog rebuild after one ``list_changed`` is cheap.
        """
        for server in [s for s in self._servers if s not in catalog]:
            self.remove_server(server)
        changed = []
        for server, tools in catalog.items():
            entry = self._servers.get(server)
            if entry is not None and (entry.tools is tools or list(entry.tools) == list(tools)):
                continue
            self.replace_server(server, tools)
            changed.append(server)
        return changed

    def _invalidate(self) -> None:
        self._averages = None
        self._norms = {}
        self._weights = {}
        self._vocabulary = None

    # -- search -------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """The best *limit* tools for *query*, best first; ``[]`` when nothing matches."""
        if limit <= 0 or not self._docs:
            return []
        scores: dict[str, float] = {}
        get = scores.get
        for term, factor in self._expand(query_terms(query)):
            for key, weight in self._term_weights(term):
                scores[key] = get(key, 0.0) + factor * weight
        best = heapq.nsmallest(
            limit, scores.items(), key=lambda item: (-round(item[1], 9), item[0])
        )
        return [
            SearchHit(key, self._docs[key].server, score, self._docs[key].definition)
            for key, score in best
            if score > 0
        ]

    def _expand(self, terms: Iterable[str]) -> list[tuple[str, float]]:
        """Each query term at full weight; one the index lacks by the index terms it begins.

        Only unknown terms are expanded: measured on the bench, expanding every term
        (``open`` -> ``openapi``) costs more precision than it gains.
        """
        expanded: dict[str, float] = {}
        for term in terms:
            expanded[term] = max(expanded.get(term, 0.0), 1.0)
            if len(term) < PREFIX_MIN or term in self._postings:
                continue
            vocabulary = self._sorted_vocabulary()
            start = bisect.bisect_right(vocabulary, term)
            for candidate in vocabulary[start : start + PREFIX_MAX_TERMS]:
                if not candidate.startswith(term):
                    break
                expanded[candidate] = max(expanded.get(candidate, 0.0), PREFIX_WEIGHT)
        return [(term, factor) for term, factor in expanded.items() if term in self._postings]

    def _sorted_vocabulary(self) -> list[str]:
        if self._vocabulary is None:
            self._vocabulary = sorted(self._postings)
        return self._vocabulary

    def _field_norms(self, key: str) -> list[float]:
        """Per field of one document: weight / BM25F length normalisation (cached per change)."""
        norms = self._norms.get(key)
        if norms is not None:
            return norms
        if self._averages is None:
            count = len(self._docs)
            self._averages = [total / count for total in self._field_lengths]
        norms = [
            spec.weight / (1 - spec.b + spec.b * length / average) if average else 0.0
            for spec, length, average in zip(
                FIELDS, self._docs[key].lengths, self._averages, strict=True
            )
        ]
        self._norms[key] = norms
        return norms

    def _term_weights(self, term: str) -> list[tuple[str, float]]:
        """Each document's BM25 score for *term* (idf included), cached until the next change."""
        cached = self._weights.get(term)
        if cached is not None:
            return cached
        postings = self._postings[term]
        count = len(self._docs)
        idf = math.log(1 + (count - len(postings) + 0.5) / (len(postings) + 0.5))
        fields = range(len(FIELDS))
        weights = []
        for key, counts in postings.items():
            scale = self._field_norms(key)
            tf = sum(counts[i] * scale[i] for i in fields if counts[i])
            weights.append((key, idf * tf * (K1 + 1) / (tf + K1)))
        self._weights[term] = weights
        return weights
