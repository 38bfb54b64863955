"""What the matcher reads in a text: concepts, families, topics, word stems and word roots.

A text becomes a bag of weighted features:

- ``c:<concept>`` and ``f:<family>`` from the multilingual concept vocabulary (language-neutral);
- ``w:<word>`` from the general trilingual lexicon (language-neutral);
- ``o:<topic>`` from the item's own topics and the topics of its concepts (language-neutral);
- ``t:<stem>`` for every content word, stemmed in the text's language;
- ``r:<root>`` the first letters of longer words, which cognates share across languages
  (``automazione``, ``automation``, ``automatisering``).

The title counts twice: it says in a few words what the item is about.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from nlp.labels import TOPICS
from nlp.matching.concepts import CONCEPTS, Concept
from nlp.matching.lexicon import LEXICON
from nlp.matching.text import (
    LANGUAGES,
    STOPWORDS,
    fold,
    guess_language,
    root,
    stem,
    stopwords,
    tokens,
)

TITLE_WEIGHT = 2
ROOT_MIN = 6  # words shorter than this add no root feature (their stem says it all)
INFIX_MIN_WORD = 8  # Swedish compounds: only words this long are searched inside
INFIX_MIN_PART = 4
TEXT_MAX = 6000  # characters read of one text
MEMO_MAX = 200_000  # words whose candidate patterns are remembered, per language
# Frequent first parts of Swedish compounds (besides the vocabulary's own words).
_HEADS = """vatten metan gas bio sol vind el mat skog bil buss tåg väg hus bygg fjärr värme kyl
    luft data energi miljö klimat vård hem skol barn äldre stad land sjö hav fisk trä stål
    plast glas järn metall papper avfall sop rör rök regn snö is"""
COMPOUND_HEADS = frozenset(_HEADS.split())


@dataclass(frozen=True, slots=True)
class _Pattern:
    concept: str
    words: tuple[tuple[str, bool], ...]  # (folded word, is a prefix), the first one excluded


@dataclass
class _LanguageIndex:
    exact: dict[str, list[_Pattern]] = field(default_factory=lambda: defaultdict(list))
    prefix: dict[str, list[_Pattern]] = field(default_factory=lambda: defaultdict(list))
    longest_prefix: int = 0


def _compile_pattern(text: str, lang: str) -> list[tuple[str, bool]]:
    """A pattern's words, folded, general stop words dropped; ``*`` marks a prefix."""
    drop = STOPWORDS[lang]
    words: list[tuple[str, bool]] = []
    for raw in text.split():
        is_prefix = raw.endswith("*")
        for part in tokens(raw.rstrip("*")):
            folded = fold(part)
            if folded not in drop:
                words.append((folded, False))
        if is_prefix and words:
            words[-1] = (words[-1][0], True)
    return words


class ConceptMatcher:
    """Finds the vocabulary's concepts in a text's words, one language at a time."""

    def __init__(self, concepts: Iterable[Concept] = CONCEPTS, *, topical: bool = True) -> None:
        self.concepts: dict[str, Concept] = {}
        self._index = {lang: _LanguageIndex() for lang in LANGUAGES}
        self._known_sv: set[str] = set()
        self._memo: dict[str, dict[str, tuple[_Pattern, ...]]] = {lang: {} for lang in LANGUAGES}
        for concept in concepts:
            if concept.id in self.concepts:
                raise ValueError(f"concept {concept.id} defined twice")
            unknown = set(concept.topics) - set(TOPICS)
            if topical and not concept.topics:
                raise ValueError(f"concept {concept.id} has no topic")
            if unknown:
                raise ValueError(f"concept {concept.id}: unknown topics {sorted(unknown)}")
            self.concepts[concept.id] = concept
            for lang, patterns in concept.patterns.items():
                index = self._index[lang]
                for text in patterns:
                    words = _compile_pattern(text, lang)
                    if not words:
                        raise ValueError(f"concept {concept.id}: empty pattern {text!r} ({lang})")
                    (first, first_prefix), rest = words[0], tuple(words[1:])
                    pattern = _Pattern(concept.id, rest)
                    if first_prefix:
                        index.prefix[first].append(pattern)
                        index.longest_prefix = max(index.longest_prefix, len(first))
                    else:
                        index.exact[first].append(pattern)
                    if lang == "sv":
                        self._known_sv.update(word for word, _ in words)

    def _starting(self, code: str, word: str) -> tuple[_Pattern, ...]:
        """The patterns that may start at ``word`` (remembered: texts repeat their words)."""
        memo = self._memo[code]
        found = memo.get(word)
        if found is None:
            index = self._index[code]
            candidates = list(index.exact.get(word, ()))
            for end in range(1, min(len(word), index.longest_prefix) + 1):
                candidates.extend(index.prefix.get(word[:end], ()))
            if code == "sv" and len(word) >= INFIX_MIN_WORD:
                candidates.extend(self._inside(index, word))
            found = tuple(candidates)
            if len(memo) >= MEMO_MAX:
                memo.clear()
            memo[word] = found
        return found

    @staticmethod
    def _rest_matches(words: list[str], start: int, rest: tuple[tuple[str, bool], ...]) -> bool:
        if start + len(rest) > len(words):
            return False
        for offset, (wanted, is_prefix) in enumerate(rest):
            word = words[start + offset]
            if not (word.startswith(wanted) if is_prefix else word == wanted):
                return False
        return True

    def find(
        self, words: list[str], lang: str | None, first: dict[str, int] | None = None
    ) -> Counter[str]:
        """How often each concept occurs in ``words`` (folded, stop words dropped).

        ``first``, if given, receives the position of each concept's first occurrence.
        """
        found: Counter[str] = Counter()
        langs = (lang,) if lang in self._index else LANGUAGES
        for code in langs:
            for position, word in enumerate(words):
                patterns = self._starting(code, word)
                if not patterns:
                    continue
                hit: set[str] = set()
                for pattern in patterns:
                    if pattern.concept not in hit and (
                        not pattern.words or self._rest_matches(words, position + 1, pattern.words)
                    ):
                        hit.add(pattern.concept)
                for concept_id in hit:
                    found[concept_id] += 1
                    if first is not None and concept_id not in first:
                        first[concept_id] = position
        return found

    def _inside(self, index: _LanguageIndex, word: str) -> list[_Pattern]:
        """Concepts named by the last part of a compound (``tömningsrutterna`` → routes).

        A part counts only after a plausible seam: a linking "s" (``tömnings|rutterna``) or a
        word the vocabulary knows (``metan|läckor``); the longest such part wins, so that
        ``bostadsrätts|föreningen`` is an association and not a purification (``rening``).
        """
        for start in range(3, len(word) - INFIX_MIN_PART + 1):
            head = word[:start]
            if not (head.endswith("s") or head in self._known_sv or head in COMPOUND_HEADS):
                continue
            part = word[start:]
            hit = [p for p in index.exact.get(part, ()) if not p.words]
            for end in range(INFIX_MIN_PART, min(len(part), index.longest_prefix) + 1):
                hit += [p for p in index.prefix.get(part[:end], ()) if not p.words]
            if hit:
                return hit
        return []


@dataclass(frozen=True, slots=True)
class Analysis:
    """The features of one text, with how often each occurs, and the words behind them."""

    lang: str | None
    features: Mapping[str, float]
    length: int  # content words, the title counted twice
    surface: Mapping[str, str]  # t:/r:/w: feature → the word as written


class Analyzer:
    """Turns (title, description, language, topics) into an :class:`Analysis`."""

    def __init__(
        self,
        matcher: ConceptMatcher | None = None,
        lexicon: ConceptMatcher | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.matcher = matcher or ConceptMatcher()
        self.lexicon = lexicon or ConceptMatcher(LEXICON, topical=False)
        # What each word (as written) adds, per language: texts repeat their words.
        self._words: dict[str | None, dict[str, tuple[str | None, tuple[str, ...]]]] = {}
        # Queries are analysed again and again (every approval, every search): remember them.
        self.analyze = lru_cache(maxsize=cache_size)(self.read)

    @staticmethod
    def _word(
        word: str, lang: str | None, general: frozenset[str], content_stop: frozenset[str]
    ) -> tuple[str | None, tuple[str, ...]]:
        """A word's folded form (None for a stop word) and the term features it adds."""
        folded = fold(word)
        if folded in general:
            return None, ()
        if folded in content_stop or len(folded) < 2 or folded.isdigit():
            return folded, ()
        keys = ["t:" + stem(folded, lang)]
        if len(folded) >= ROOT_MIN:
            keys.append("r:" + root(folded))
        return folded, tuple(keys)

    def read(
        self, title: str, description: str, lang: str | None, topics: tuple[str, ...] = ()
    ) -> Analysis:
        """The analysis of one text (not remembered; :attr:`analyze` is the remembering one)."""
        title_words = tokens(title[:TEXT_MAX])
        body_words = tokens(description[:TEXT_MAX])
        if lang not in LANGUAGES:
            lang = guess_language(title_words + body_words)
        general = STOPWORDS.get(lang or "", frozenset())
        if lang is None:
            general = stopwords(None)
        content_stop = stopwords(lang)

        features: dict[str, float] = defaultdict(float)
        surface: dict[str, str] = {}
        length = 0
        memo = self._words.setdefault(lang, {})
        if len(memo) >= MEMO_MAX:
            memo.clear()
        for words, weight in ((title_words, TITLE_WEIGHT), (body_words, 1)):
            kept: list[str] = []
            written: list[str] = []
            for word in words:
                known = memo.get(word)
                if known is None:
                    known = memo[word] = self._word(word, lang, general, content_stop)
                folded, keys = known
                if folded is None:
                    continue
                kept.append(folded)
                written.append(word)
                if keys:
                    length += weight
                for key in keys:
                    features[key] += weight
                    surface.setdefault(key, word)
            for concept_id, count in self.matcher.find(kept, lang).items():
                features["c:" + concept_id] += weight * count
            first: dict[str, int] = {}
            for word_id, count in self.lexicon.find(kept, lang, first).items():
                key = "w:" + word_id
                features[key] += weight * count
                surface.setdefault(key, written[first[word_id]])

        concepts = [self.matcher.concepts[key[2:]] for key in features if key.startswith("c:")]
        families: Counter[str] = Counter()
        topic_weight: dict[str, float] = defaultdict(float)
        for concept in concepts:
            if concept.family:
                families[concept.family] += 1
            for topic in concept.topics:
                topic_weight[topic] += 1.0 / len(concept.topics)
        for family, count in families.items():
            features["f:" + family] = float(count)
        for topic in topics:
            if topic in TOPICS:
                topic_weight[topic] += 2.0
        total = sum(topic_weight.values())
        for topic, evidence in topic_weight.items():
            # The share of the item's evidence, so that a long text does not weigh more.
            features["o:" + topic] = 3.0 * evidence / total
        return Analysis(lang, dict(features), max(length, 1), surface)
