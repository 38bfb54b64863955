"""The matching engine: an inverted index of profiles (or challenges) and a ranked search.

Scoring is BM25 over the features of :mod:`nlp.matching.analysis`, each kind of feature with its
own weight: a shared concept counts most, a shared word stem less, a shared family, word root or
topic least. The query's score against itself is the yardstick, so a score of 1.0 means "says
everything the query says", whatever the query's length.

Indexing is incremental: :meth:`MatchingEngine.add` just analyses; the arrays are (re)built on the
next :meth:`MatchingEngine.rank`. Ranking touches only the postings of the query's features, so it
stays fast for a hundred thousand profiles.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy
import numpy.typing as npt

from nlp.matching.analysis import Analysis, Analyzer
from nlp.matching.concepts import FAMILIES

FloatArray = npt.NDArray[numpy.float32]
IntArray = npt.NDArray[numpy.int32]


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each kind of shared feature counts, and the BM25 constants."""

    concept: float = 1.5
    family: float = 0.6
    word: float = 1.5
    term: float = 0.7
    root: float = 0.3
    topic: float = 0.5
    k1: float = 1.2
    b: float = 0.6

    def of(self, feature: str) -> float:
        return {
            "c": self.concept,
            "f": self.family,
            "t": self.term,
            "r": self.root,
            "o": self.topic,
            "w": self.word,
        }[feature[0]]


@dataclass(frozen=True, slots=True)
class Document:
    """One item to match: a profile, a challenge or an idea."""

    id: str
    title: str
    description: str = ""
    lang: str | None = None
    kind: str | None = None
    topics: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Document:
        """A document from a JSON object (``id``, ``title``, ``description``, optional
        ``lang``, ``kind``, ``topics``); raises ValueError when it is not one."""
        if not isinstance(value, Mapping):
            raise ValueError("not a JSON object")
        doc_id = value.get("id")
        title = value.get("title")
        if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or str(doc_id) == "":
            raise ValueError("missing or invalid 'id'")
        if not isinstance(title, str):
            raise ValueError(f"{doc_id}: missing or invalid 'title'")
        description = value.get("description") or ""
        lang = value.get("lang")
        kind = value.get("kind")
        topics = value.get("topics") or ()
        if not isinstance(description, str):
            raise ValueError(f"{doc_id}: 'description' must be a string")
        if lang is not None and not isinstance(lang, str):
            raise ValueError(f"{doc_id}: 'lang' must be a string")
        if kind is not None and not isinstance(kind, str):
            raise ValueError(f"{doc_id}: 'kind' must be a string")
        if not isinstance(topics, list | tuple) or not all(isinstance(t, str) for t in topics):
            raise ValueError(f"{doc_id}: 'topics' must be a list of strings")
        return cls(str(doc_id), title, description, lang, kind, tuple(topics))


@dataclass(frozen=True, slots=True)
class Why:
    """What a suggestion rests on: shared topics, concepts (or their families) and words."""

    topics: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "topics": list(self.topics),
            "concepts": list(self.concepts),
            "families": list(self.families),
            "terms": list(self.terms),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Why:
        def strings(name: str) -> tuple[str, ...]:
            items = value.get(name) or ()
            return tuple(str(item) for item in items if isinstance(item, str))[:10]

        return cls(strings("topics"), strings("concepts"), strings("families"), strings("terms"))

    @property
    def empty(self) -> bool:
        return not (self.topics or self.concepts or self.families or self.terms)


@dataclass(frozen=True, slots=True)
class Ranked:
    id: str
    score: float
    why: Why
    kind: str | None = None


@dataclass(slots=True)
class _Entry:
    """One indexed document, compactly: its features as ids into the engine's vocabulary."""

    id: str
    kind: str | None
    length: float
    features: array[int]
    counts: array[float]


@dataclass
class _Built:
    """The arrays of the index, valid until a document is added."""

    ids: list[str]
    kinds: npt.NDArray[numpy.int16]
    kind_codes: dict[str | None, int]
    feature_ids: dict[str, int]
    features: list[str]
    idf: FloatArray
    avg_length: float
    # Postings, by feature: documents and weights (CSR).
    post_ptr: npt.NDArray[numpy.int64]
    post_docs: IntArray
    post_weights: FloatArray
    # The same, by document (for explanations).
    doc_ptr: npt.NDArray[numpy.int64]
    doc_features: IntArray
    doc_weights: FloatArray


@dataclass
class MatchingEngine:
    """Ranks indexed documents for a query document."""

    weights: Weights = field(default_factory=Weights)
    analyzer: Analyzer = field(default_factory=Analyzer)
    why_concepts: int = 3
    why_terms: int = 4

    def __post_init__(self) -> None:
        self._entries: list[_Entry] = []
        self._positions: dict[str, int] = {}
        self._feature_ids: dict[str, int] = {}
        self._built: _Built | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def analyze(self, doc: Document) -> Analysis:
        return self.analyzer.analyze(doc.title, doc.description, doc.lang, doc.topics)

    def add(self, doc: Document) -> None:
        """Index ``doc`` (a document with the same id replaces the earlier one)."""
        analysis = self.analyzer.read(doc.title, doc.description, doc.lang, doc.topics)
        ids = self._feature_ids
        entry = _Entry(
            doc.id,
            doc.kind,
            float(analysis.length),
            array("i", [ids.setdefault(name, len(ids)) for name in analysis.features]),
            array("f", analysis.features.values()),
        )
        position = self._positions.get(doc.id)
        if position is None:
            self._positions[doc.id] = len(self._entries)
            self._entries.append(entry)
        else:
            self._entries[position] = entry
        self._built = None

    def add_all(self, docs: Iterable[Document]) -> None:
        for doc in docs:
            self.add(doc)

    def index_bytes(self) -> int:
        """The size of the index arrays (after :meth:`build`), in bytes."""
        built = self._built
        if built is None:
            return 0
        arrays = (
            built.kinds, built.idf, built.post_ptr, built.post_docs, built.post_weights,
            built.doc_ptr, built.doc_features, built.doc_weights,
        )  # fmt: skip
        return sum(int(array.nbytes) for array in arrays)

    # --- building ------------------------------------------------------------------------------

    def build(self) -> None:
        """Build the index arrays now (otherwise the next :meth:`rank` does)."""
        if self._built is None:
            self._built = self._build()

    def _build(self) -> _Built:
        weights = self.weights
        feature_ids = self._feature_ids
        kind_codes: dict[str | None, int] = {}
        kinds = [kind_codes.setdefault(entry.kind, len(kind_codes)) for entry in self._entries]
        lengths = [entry.length for entry in self._entries]
        flat_features: array[int] = array("i")
        flat_tf: array[float] = array("f")
        per_doc_counts: array[int] = array("q")
        for entry in self._entries:
            flat_features.extend(entry.features)
            flat_tf.extend(entry.counts)
            per_doc_counts.append(len(entry.features))

        n_docs = len(self._entries)
        n_features = len(feature_ids)
        features = list(feature_ids)
        per_doc = numpy.frombuffer(per_doc_counts, dtype=numpy.int64)
        doc_ptr_array = numpy.zeros(n_docs + 1, dtype=numpy.int64)
        numpy.cumsum(per_doc, out=doc_ptr_array[1:])
        feature_array = numpy.frombuffer(flat_features, dtype=numpy.int32).copy()
        tf = numpy.frombuffer(flat_tf, dtype=numpy.float32).copy()
        doc_of = numpy.repeat(numpy.arange(n_docs, dtype=numpy.int32), per_doc)
        doc_length = numpy.asarray(lengths, dtype=numpy.float32)
        avg_length = float(doc_length.mean()) if n_docs else 1.0

        df = numpy.bincount(feature_array, minlength=n_features).astype(numpy.float32)
        idf = numpy.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(numpy.float32)
        type_weight = numpy.asarray([weights.of(name) for name in features], dtype=numpy.float32)
        norm = weights.k1 * (1 - weights.b + weights.b * doc_length[doc_of] / avg_length)
        saturated = tf * (weights.k1 + 1) / (tf + norm)
        doc_weights = (type_weight[feature_array] * idf[feature_array] * saturated).astype(
            numpy.float32
        )

        order = numpy.argsort(feature_array, kind="stable")
        post_ptr = numpy.zeros(n_features + 1, dtype=numpy.int64)
        numpy.cumsum(df.astype(numpy.int64), out=post_ptr[1:])
        return _Built(
            ids=[entry.id for entry in self._entries],
            kinds=numpy.asarray(kinds, dtype=numpy.int16),
            kind_codes=kind_codes,
            feature_ids=feature_ids,
            features=features,
            idf=idf,
            avg_length=avg_length,
            post_ptr=post_ptr,
            post_docs=doc_of[order],
            post_weights=doc_weights[order],
            doc_ptr=doc_ptr_array,
            doc_features=feature_array,
            doc_weights=doc_weights,
        )

    # --- ranking -------------------------------------------------------------------------------

    def _query_weights(self, built: _Built, analysis: Analysis) -> tuple[dict[int, float], float]:
        """The query's known features with their weights, and its score against itself."""
        weights = self.weights
        known: dict[int, float] = {}
        best = 0.0
        norm = weights.k1 * (1 - weights.b + weights.b * analysis.length / built.avg_length)
        rarest = math.log1p((len(built.ids) - 0.5) / 1.5)
        for name, tf in analysis.features.items():
            weight = 1.0 + math.log(tf) if tf >= 1 else tf
            feature = built.feature_ids.get(name)
            # A word no indexed document has counts as the rarest one does: as if it were in
            # exactly one. (Counting it rarer still would make scores sink when few are indexed.)
            idf = float(built.idf[feature]) if feature is not None else rarest
            saturated = tf * (weights.k1 + 1) / (tf + norm)
            best += weight * weights.of(name) * idf * saturated
            if feature is not None:
                known[feature] = weight
        return known, best

    def rank(
        self,
        query: Document,
        top: int = 10,
        *,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
        min_score: float = 0.0,
    ) -> list[Ranked]:
        """The ``top`` best documents for ``query``, best first, each with why it matched.

        ``kinds`` keeps only documents of those kinds; ``exclude`` drops documents by id (the
        query itself, say); ``min_score`` drops weak matches.
        """
        self.build()
        built = self._built
        assert built is not None
        if not built.ids or top <= 0:
            return []
        analysis = self.analyze(query)
        known, best = self._query_weights(built, analysis)
        scores = numpy.zeros(len(built.ids), dtype=numpy.float32)
        for feature, weight in known.items():
            start, end = built.post_ptr[feature], built.post_ptr[feature + 1]
            scores[built.post_docs[start:end]] += weight * built.post_weights[start:end]
        if kinds is not None:
            codes = [built.kind_codes[k] for k in kinds if k in built.kind_codes]
            scores[~numpy.isin(built.kinds, codes)] = 0.0
        for doc_id in exclude:
            position = self._positions.get(doc_id)
            if position is not None:
                scores[position] = 0.0
        count = min(top, len(scores))
        candidates = numpy.argpartition(-scores, count - 1)[:count]
        ordered = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), i))
        scale = best if best > 0 else 1.0
        results = []
        for position in ordered:
            score = float(scores[position]) / scale
            if scores[position] <= 0 or score < min_score:
                continue
            results.append(
                Ranked(
                    id=built.ids[position],
                    score=round(min(score, 1.0), 4),
                    why=self._why(built, position, known, analysis),
                    kind=self._entries[position].kind,
                )
            )
        return results

    def _why(
        self, built: _Built, position: int, known: Mapping[int, float], analysis: Analysis
    ) -> Why:
        start, end = built.doc_ptr[position], built.doc_ptr[position + 1]
        shared: dict[str, float] = {}
        for feature, weight in zip(
            built.doc_features[start:end].tolist(),
            built.doc_weights[start:end].tolist(),
            strict=True,
        ):
            if feature in known:
                shared[built.features[feature]] = known[feature] * weight
        ranked = sorted(shared, key=lambda name: (-shared[name], name))
        concepts = tuple(name[2:] for name in ranked if name.startswith("c:"))
        families = tuple(
            name[2:] for name in ranked if name.startswith("f:") and name[2:] in FAMILIES
        )
        topics = tuple(name[2:] for name in ranked if name.startswith("o:"))
        words: list[str] = []
        for name in ranked:
            word: str | None = None
            if name[0] in "trw":
                word = analysis.surface.get(name)
            if word and word.casefold() not in {w.casefold() for w in words}:
                words.append(word)
        return Why(
            topics=topics[:2],
            concepts=concepts[: self.why_concepts],
            families=() if concepts else families[:2],
            terms=tuple(words[: self.why_terms]),
        )
