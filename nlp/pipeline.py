"""innobot's text analyser: language, intent and topics of a message, from the shipped models.

Load once (``Pipeline.load()``, about a second), then call :meth:`Pipeline.analyze` from
anywhere: it is synchronous, takes well under a millisecond and never raises on a ``str``.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from handlers.context import Analysis
from nlp.features import Tokenizers
from nlp.labels import OUT_OF_SCOPE, SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE
from nlp.models import (
    CLASSIFIER_DIR,
    INTENT_PIPE,
    LANGUAGE_DIR,
    LANGUAGE_PIPE,
    NO_TOPIC,
    PRIMARY_TOPIC_PIPE,
    TOPIC_PIPE,
    Manifest,
    ModelError,
    load_spacy,
    read_manifest,
    shipped_model_dir,
)

__all__ = [
    "CANDIDATE_MIN_SCORE",
    "CONFIDENCE_THRESHOLD",
    "MAX_CHARS",
    "Classification",
    "IntentModel",
    "ModelError",
    "Pipeline",
    "default_pipeline",
    "intent_candidates",
]

# An in-scope intent at or above this score is acted on directly; below it, the router offers
# the likeliest intents (:meth:`Classification.candidates`) as buttons.
CONFIDENCE_THRESHOLD = 0.6
# An intent offered as a button must have at least this score.
CANDIDATE_MIN_SCORE = 0.1
# The primary topic is reported unless the text seems to be about no topic at all; further
# topics are reported when their score reaches TOPIC_THRESHOLD (at most MAX_TOPICS in all).
TOPIC_THRESHOLD = 0.5
MAX_TOPICS = 3
# A language other than en/it/sv is reported only when the identifier is at least this sure;
# otherwise the likeliest supported language is.
OTHER_LANGUAGE_MIN = 0.6
# Only the beginning of a very long message is read.
MAX_CHARS = 5000

# Scripts that belong to one language; other non-Latin scripts are reported as "unknown".
_SCRIPT_LANGUAGES = {
    "GREEK": "el",
    "HEBREW": "he",
    "THAI": "th",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
}


Scores = tuple[tuple[str, float], ...]
Intent = tuple[str, float, Scores]  # the intent, its score, every intent ranked


@dataclass(frozen=True, slots=True)
class Classification:
    """Everything the classifiers said about one text."""

    lang: str
    lang_score: float
    intent: str
    intent_score: float
    # Every intent with its score, best first.
    intents: Scores
    # The reported topics, primary first.
    topics: Scores

    @property
    def analysis(self) -> Analysis:
        return Analysis(
            self.lang,
            self.intent,
            self.intent_score,
            self.topics,
            confident=self.confident,
            candidates=self.candidates(),
        )

    @property
    def confident(self) -> bool:
        """Whether the intent is in scope and sure enough to act on without asking."""
        return self.intent != OUT_OF_SCOPE and self.intent_score >= CONFIDENCE_THRESHOLD

    def candidates(self, k: int = 3) -> tuple[tuple[str, float], ...]:
        """Up to ``k`` in-scope intents worth offering as buttons, likeliest first."""
        return tuple(
            (label, score)
            for label, score in self.intents
            if label != OUT_OF_SCOPE and score >= CANDIDATE_MIN_SCORE
        )[:k]


def clean(text: str) -> str:
    """``text`` made safe for the tokenizer: bounded, valid Unicode, no control characters."""
    text = text[:MAX_CHARS]
    if not text.isascii():
        # Lone surrogates (undecodable bytes) cannot be encoded; they become "?".
        text = text.encode("utf-8", "replace").decode("utf-8")
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text.strip()


def script_language(text: str) -> str | None:
    """For text written mostly in a non-Latin script: its language code or "unknown"."""
    if text.isascii():
        return None
    latin = other = 0
    names: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        if ch.isascii():
            latin += 1
            continue
        name = unicodedata.name(ch, "")
        script = name.split(" ", 1)[0]
        if script == "LATIN":
            latin += 1
        else:
            other += 1
            names[script] = names.get(script, 0) + 1
    if other <= latin:
        return None
    if "HIRAGANA" in names or "KATAKANA" in names:
        return "ja"
    if "CJK" in names:
        return "zh"
    script = max(names, key=lambda s: names[s])
    return _SCRIPT_LANGUAGES.get(script, UNKNOWN_LANGUAGE)


class IntentModel:
    """An intent classifier: the one in a bundle, or one trained on any labelled file."""

    def __init__(
        self, manifest: Manifest, nlp: Language, tokenizers: Tokenizers | None = None
    ) -> None:
        self.manifest = manifest
        self._nlp = nlp
        self._pipe = nlp.get_pipe(INTENT_PIPE)
        self._tokenizers = tokenizers or Tokenizers()
        self.labels: tuple[str, ...] = tuple(self._pipe.labels)
        self.oos_label = manifest.oos_label or OUT_OF_SCOPE
        self.threshold = manifest.oos_threshold
        self.lang = manifest.languages[0] if manifest.languages else "en"

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        """The intent classifier of a bundle or of an intent model directory."""
        return cls(read_manifest(directory), load_spacy(directory, CLASSIFIER_DIR, (INTENT_PIPE,)))

    def predict_texts(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[Intent]:
        """Intents of ``texts``, each tokenized as its language (or the model's)."""
        langs = langs or [None] * len(texts)
        docs = [
            self._tokenizers(lang if lang in SUPPORTED_LANGUAGES else self.lang, clean(text))
            for text, lang in zip(texts, langs, strict=True)
        ]
        return self.predict(docs)

    def predict(self, docs: list[Doc]) -> list[Intent]:
        if not docs:
            return []
        scores = numpy.asarray(self._pipe.model.predict(docs))
        labels = self.labels
        out: list[Intent] = []
        for doc, row in zip(docs, scores, strict=True):
            if not len(doc):
                out.append((self.oos_label, 0.0, tuple((label, 0.0) for label in labels)))
                continue
            order = numpy.argsort(-row, kind="stable")
            ranked = tuple((labels[j], round(float(row[j]), 4)) for j in order)
            intent, score = ranked[0]
            if intent != self.oos_label and score < self.threshold:
                # Not sure enough of any intent: out of scope, with the score that has.
                score = (
                    round(float(row[labels.index(self.oos_label)]), 4)
                    if self.oos_label in labels
                    else 0.0
                )
                intent = self.oos_label
            out.append((intent, score, ranked))
        return out


class Pipeline:
    """The loaded classifiers. Safe to share between threads."""

    def __init__(
        self,
        manifest: Manifest,
        language: Language,
        classifier: Language,
        intent_model: IntentModel | None = None,
    ) -> None:
        self.manifest = manifest
        self._language = language
        self._classifier = classifier
        self._tokenizers = Tokenizers()
        self.intent_model = intent_model or IntentModel(manifest, classifier, self._tokenizers)
        self._language_pipe = language.get_pipe(LANGUAGE_PIPE)
        self._language_labels = list(self._language_pipe.labels)
        self._topic_pipe = classifier.get_pipe(TOPIC_PIPE)
        self._primary_pipe = classifier.get_pipe(PRIMARY_TOPIC_PIPE)
        primary_labels = list(self._primary_pipe.labels)
        self._order_in_primary = [primary_labels.index(label) for label in self._topic_pipe.labels]
        self._no_topic = primary_labels.index(NO_TOPIC)
        self._supported = [
            j for j, label in enumerate(self._language_labels) if label in SUPPORTED_LANGUAGES
        ]
        self.intent_labels = self.intent_model.labels
        self.topic_labels: tuple[str, ...] = tuple(self._topic_pipe.labels)

    @classmethod
    def load(cls, model_dir: Path | None = None, *, intent_model: Path | None = None) -> Pipeline:
        """Load a bundle (the shipped one by default), optionally with another intent model.

        Raises :class:`ModelError` naming the directory and the command that rebuilds it.
        """
        directory = model_dir or shipped_model_dir()
        manifest = read_manifest(directory)
        if manifest.kind != "bundle":
            raise ModelError(
                f"NLP model directory {directory} holds an intent model, not a bundle; "
                "give it as the intent model (--model) instead"
            )
        language = load_spacy(directory, LANGUAGE_DIR, (LANGUAGE_PIPE,))
        classifier = load_spacy(
            directory, CLASSIFIER_DIR, (INTENT_PIPE, TOPIC_PIPE, PRIMARY_TOPIC_PIPE)
        )
        extra = IntentModel.load(intent_model) if intent_model is not None else None
        return cls(manifest, language, classifier, extra)

    # --- the TextAnalyzer protocol and friends ----------------------------------------------

    def analyze(self, text: str) -> Analysis:
        return self.classify(text).analysis

    def analyze_many(self, texts: Iterable[str]) -> list[Analysis]:
        return [c.analysis for c in self.classify_many(texts)]

    def intent_candidates(self, text: str, k: int = 3) -> Scores:
        """The ``k`` likeliest in-scope intents of ``text`` worth offering as buttons."""
        return self.classify(text).candidates(k)

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Iterable[str]) -> list[Classification]:
        """Classify a batch (faster per text than one by one)."""
        cleaned = [clean(text) if isinstance(text, str) else "" for text in texts]
        readable = [i for i, text in enumerate(cleaned) if any(ch.isalnum() for ch in text)]
        results = [self._no_text] * len(cleaned)
        if not readable:
            return results
        texts_in = [cleaned[i] for i in readable]
        languages = self._identify(texts_in)
        # Unsupported languages are read as English: most such messages that innobot can
        # act on at all are English words (names of things, "help", "ok").
        token_langs = [lang if lang in SUPPORTED_LANGUAGES else "en" for lang, _ in languages]
        docs = [
            self._tokenizers(lang, text) for lang, text in zip(token_langs, texts_in, strict=True)
        ]
        intents = self.intent_model.predict(docs)
        topics = self._topics(docs)
        for i, (lang, lang_score), intent, topic in zip(
            readable, languages, intents, topics, strict=True
        ):
            if lang not in SUPPORTED_LANGUAGES:
                intent = self._not_understood
            results[i] = Classification(lang, lang_score, *intent, topic)
        return results

    def detect_language(self, text: str) -> tuple[str, float]:
        """The language of ``text`` and how sure the identifier is."""
        cleaned = clean(text)
        if not any(ch.isalpha() for ch in cleaned):
            return UNKNOWN_LANGUAGE, 0.0
        return self._identify([cleaned])[0]

    # --- internals ----------------------------------------------------------------------------

    @property
    def _no_text(self) -> Classification:
        return Classification(UNKNOWN_LANGUAGE, 0.0, *self._not_understood, ())

    @property
    def _not_understood(self) -> Intent:
        return OUT_OF_SCOPE, 0.0, tuple((label, 0.0) for label in self.intent_labels)

    def _identify(self, texts: list[str]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = [(UNKNOWN_LANGUAGE, 0.0)] * len(texts)
        latin: list[int] = []
        for i, text in enumerate(texts):
            code = script_language(text)
            if code is None:
                latin.append(i)
            else:
                out[i] = (code, 1.0)
        if not latin:
            return out
        docs = [self._language.make_doc(texts[i]) for i in latin]
        scores = numpy.asarray(self._language_pipe.model.predict(docs))
        for i, row in zip(latin, scores, strict=True):
            best = int(row.argmax())
            if (
                self._language_labels[best] not in SUPPORTED_LANGUAGES
                and row[best] < OTHER_LANGUAGE_MIN
            ):
                best = max(self._supported, key=lambda j: float(row[j]))
            out[i] = (self._language_labels[best], round(float(row[best]), 4))
        return out

    def _topics(self, docs: list[Doc]) -> list[Scores]:
        labels = self.topic_labels
        each = numpy.asarray(self._topic_pipe.model.predict(docs))
        primary_scores = numpy.asarray(self._primary_pipe.model.predict(docs))
        order_in_primary = self._order_in_primary
        none = self._no_topic
        out: list[Scores] = []
        for row, primary_row in zip(each, primary_scores, strict=True):
            # Rank by both: how much the text is about a topic, and how likely it leads.
            rank = row * primary_row[order_in_primary]
            order = [int(j) for j in numpy.argsort(-rank, kind="stable")]
            first = order[0]
            if row[first] < TOPIC_THRESHOLD and primary_row[none] >= 0.5:
                out.append(())
                continue
            chosen = [first] + [j for j in order[1:MAX_TOPICS] if row[j] >= TOPIC_THRESHOLD]
            out.append(tuple((labels[j], round(float(row[j]), 4)) for j in chosen))
        return out


_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The shipped models, loaded on first use and shared by the whole process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline.load()
        return _default


def intent_candidates(
    source: Classification | str, k: int = 3, pipeline: Pipeline | None = None
) -> tuple[tuple[str, float], ...]:
    """The likeliest in-scope intents of a text (or of a classification already made)."""
    if isinstance(source, Classification):
        return source.candidates(k)
    return (pipeline or default_pipeline()).intent_candidates(source, k)
