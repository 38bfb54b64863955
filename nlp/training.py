"""Training: builds spaCy pipelines from ``spacy.blank`` and trains their classifiers, seeded.

Two kinds of model directory come out of here (see :mod:`nlp.models`): the project's bundle
(language identifier + intent and topic classifiers) and a plain intent model trained on any
``{"text", "intent"}`` JSONL file. The same data and config always give the same model.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import os
import random
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed
from thinc.api import Adam

from nlp.data import DataError, Example, augment, project_file, read_jsonl
from nlp.features import Tokenizers
from nlp.labels import INTENTS, OTHER_LANGUAGES, OUT_OF_SCOPE, SUPPORTED_LANGUAGES, TOPICS
from nlp.models import (
    CLASSIFIER_DIR,
    INTENT_PIPE,
    LANGUAGE_DIR,
    LANGUAGE_PIPE,
    NO_TOPIC,
    PRIMARY_TOPIC_PIPE,
    TOPIC_PIPE,
    Manifest,
    write_manifest,
)

log = logging.getLogger(__name__)

# Labels a file may use for "none of the above".
OOS_LABELS = (OUT_OF_SCOPE, "oos")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that decides what training produces; the same config gives the same model."""

    seed: int = 0
    epochs: int = 10
    learn_rate: float = 0.01
    # Keep a running average of the weights and save that (smoother than the last step).
    use_averages: bool = True
    # Batches grow with the data so that an epoch stays about this many optimizer steps.
    steps_per_epoch: int = 100
    min_batch: int = 16
    max_batch: int = 256
    # Noisy copies (typos, no accents, no punctuation, odd case) of each training text; fewer
    # for large data sets, so that the noisy training set stays within noise_budget texts.
    noise_copies: int = 2
    noise_budget: int = 20_000
    intent_length: int = 2**16
    topic_length: int = 2**15
    language_length: int = 2**16
    # Share of the training texts kept aside to calibrate the out-of-scope threshold, and the
    # share of correctly classified in-scope texts that threshold may turn away.
    dev_share: float = 0.1
    reject_rate: float = 0.01


def classifier_config(exclusive: bool, length: int, features: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` block of a ``textcat`` / ``textcat_multilabel`` component.

    ``features`` are arguments of :func:`nlp.features.hashed_features`.
    """
    return {
        "@architectures": "innobot.TextCatHashed.v1",
        "exclusive_classes": exclusive,
        "length": length,
        **features,
    }


# Intents are carried by short phrases ("stop sending", "my idea"): word pairs weigh most.
INTENT_FEATURES: dict[str, Any] = {"word_ngrams": 2, "word_weight": 3.0}
# Topics are carried by content words: function words are left out, and word pairs add noise.
TOPIC_FEATURES: dict[str, Any] = {"word_ngrams": 1, "word_weight": 1.0, "skip_stop_words": True}
# Language identification reads short character n-grams, accents included.
LANGUAGE_FEATURES: dict[str, Any] = {
    "word_ngrams": 2,
    "char_min": 1,
    "char_max": 4,
    "fold_accents": False,
    "word_weight": 1.0,
}


def train_classifier(
    nlp: Language,
    name: str,
    labels: Sequence[str],
    data: Sequence[tuple[Doc, dict[str, float]]],
    config: TrainConfig,
    *,
    exclusive: bool,
    model: dict[str, Any],
) -> None:
    """Add component ``name`` to ``nlp`` and train it on ``(doc, cats)`` pairs.

    The loop is :meth:`spacy.pipeline.TextCategorizer.update`'s (gradient: scores minus
    truths) with the truths computed once instead of at every step.
    """
    factory = "textcat" if exclusive else "textcat_multilabel"
    pipe = nlp.add_pipe(factory, name=name, config={"model": model})
    rng = random.Random(f"{config.seed}:{name}")
    sample = [
        SpacyExample.from_dict(doc, {"cats": cats})
        for doc, cats in rng.sample(list(data), min(len(data), 200))
    ]
    pipe.initialize(lambda: sample, nlp=nlp, labels=list(labels))
    order = list(pipe.labels)
    docs = [doc for doc, _ in data]
    truths = numpy.asarray(
        [[cats.get(label, 0.0) for label in order] for _, cats in data], dtype="f"
    )
    optimizer = Adam(config.learn_rate, use_averages=config.use_averages)
    size = math.ceil(len(docs) / config.steps_per_epoch)
    size = max(config.min_batch, min(config.max_batch, size))
    indices = list(range(len(docs)))
    for epoch in range(config.epochs):
        rng.shuffle(indices)
        loss = 0.0
        for start in range(0, len(indices), size):
            batch = indices[start : start + size]
            scores, backprop = pipe.model.begin_update([docs[i] for i in batch])
            d_scores = scores - truths[batch]
            backprop(d_scores)
            pipe.model.finish_update(optimizer)
            loss += float((d_scores**2).sum())
        log.debug("%s epoch %d loss %.4f", name, epoch, loss / max(1, len(docs)))


def one_hot(label: str, labels: Sequence[str]) -> dict[str, float]:
    return {candidate: float(candidate == label) for candidate in labels}


def multi_hot(chosen: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    return {candidate: float(candidate in chosen) for candidate in labels}


def predict_scores(
    nlp: Language,
    pipe_name: str,
    texts: Sequence[str],
    langs: Sequence[str],
    tokenizers: Tokenizers,
) -> numpy.ndarray:
    """The component's label scores for each text (tokenized as its language), one row each."""
    pipe = nlp.get_pipe(pipe_name)
    if not texts:
        return numpy.zeros((0, len(pipe.labels)), dtype="float32")
    docs = [tokenizers(lang, text) for text, lang in zip(texts, langs, strict=True)]
    return numpy.asarray(pipe.predict(docs))


# --- intents ------------------------------------------------------------------------------


def oos_label_of(labels: Sequence[str]) -> str | None:
    return next((label for label in OOS_LABELS if label in labels), None)


def _lang(example: Example, default: str) -> str:
    return example.lang if example.lang in SUPPORTED_LANGUAGES else default


def _train_intents(
    nlp: Language,
    examples: Sequence[Example],
    labels: Sequence[str],
    config: TrainConfig,
    tokenizers: Tokenizers,
    default_lang: str,
) -> None:
    data = [
        (tokenizers(_lang(ex, default_lang), ex.text), one_hot(ex.intent or "", labels))
        for ex in examples
    ]
    train_classifier(
        nlp,
        INTENT_PIPE,
        labels,
        data,
        config,
        exclusive=True,
        model=classifier_config(True, config.intent_length, INTENT_FEATURES),
    )


def calibrate_oos_threshold(
    examples: Sequence[Example],
    labels: Sequence[str],
    config: TrainConfig,
    tokenizers: Tokenizers | None,
    default_lang: str,
) -> float:
    """The top score below which an in-scope prediction is treated as out of scope.

    Trains on part of ``examples`` and looks at the rest: the threshold is the score under
    which ``reject_rate`` of the correctly classified in-scope texts fall. Out-of-scope texts
    are too few in most data sets to set it from them.
    """
    oos = oos_label_of(labels)
    fit, dev = stratified_split(examples, config.dev_share, f"{config.seed}:dev")
    if not dev:
        return 0.0
    tokenizers = tokenizers or Tokenizers()
    fix_random_seed(config.seed)
    nlp = spacy.blank("xx")
    _train_intents(nlp, augment_for(fit, config), labels, config, tokenizers, default_lang)
    langs = [_lang(ex, default_lang) for ex in dev]
    scores = predict_scores(nlp, INTENT_PIPE, [ex.text for ex in dev], langs, tokenizers)
    pipe_labels = list(nlp.get_pipe(INTENT_PIPE).labels)
    kept = [
        float(row.max())
        for ex, row in zip(dev, scores, strict=True)
        if ex.intent != oos and pipe_labels[int(row.argmax())] == ex.intent
    ]
    if not kept:
        return 0.0
    return float(numpy.quantile(numpy.asarray(kept), config.reject_rate))


def start_calibration(
    examples: Sequence[Example], labels: Sequence[str], config: TrainConfig, default_lang: str
) -> Callable[[], float]:
    """Calibrate the out-of-scope threshold, on a second core if there is one.

    Returns a function that waits for the threshold. The result is the same either way: the
    calibration run seeds itself.
    """
    args = (list(examples), list(labels), config, None, default_lang)
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        threshold = calibrate_oos_threshold(*args)
        return lambda: threshold
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    future = executor.submit(calibrate_oos_threshold, *args)
    executor.shutdown(wait=False)
    return future.result


def stratified_split(
    examples: Sequence[Example], share: float, seed: str
) -> tuple[list[Example], list[Example]]:
    """Split each (language, intent) group, keeping at least one example of it in the first part."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[f"{ex.lang}:{ex.intent}"].append(ex)
    first: list[Example] = []
    second: list[Example] = []
    for key in sorted(groups):
        items = list(groups[key])
        random.Random(f"{seed}:{key}").shuffle(items)
        n = min(len(items) - 1, round(len(items) * share))
        second.extend(items[:n])
        first.extend(items[n:])
    return first, second


def augment_for(
    examples: Sequence[Example], config: TrainConfig, copies: int | None = None
) -> list[Example]:
    """``examples`` and their noisy copies (seeded)."""
    if copies is None:
        affordable = config.noise_budget // max(1, len(examples)) - 1
        copies = max(0, min(config.noise_copies, affordable))
    rng = random.Random(f"{config.seed}:noise")
    return augment(list(examples), copies, rng)


def train_intent_model(
    examples: Sequence[Example],
    out: Path,
    config: TrainConfig,
    *,
    lang: str = "en",
    sources: dict[str, str] | None = None,
) -> Manifest:
    """Train an intent-only model on any labelled texts and save it in ``out``.

    Texts are tokenized as ``lang`` unless they carry a supported ``lang`` of their own.
    """
    if not examples:
        raise DataError("no training examples")
    labels = sorted({ex.intent for ex in examples if ex.intent})
    if len(labels) < 2:
        raise DataError(f"need at least two intents to train, found {labels}")
    threshold = start_calibration(examples, labels, config, lang)
    fix_random_seed(config.seed)
    nlp = spacy.blank("xx")
    _train_intents(nlp, augment_for(examples, config), labels, config, Tokenizers(), lang)
    manifest = Manifest(
        kind="intent",
        languages=(lang,),
        intents=tuple(labels),
        oos_label=oos_label_of(labels),
        oos_threshold=round(threshold(), 4),
        seed=config.seed,
        sources=sources or {},
        spacy_version=spacy.__version__,
    )

    def save(tmp: Path) -> None:
        nlp.to_disk(tmp / CLASSIFIER_DIR)
        write_manifest(tmp, manifest)

    replace_dir(out, save)
    return manifest


# --- the project's bundle -------------------------------------------------------------------

PROJECT_FILES = {
    "intents": "intents.train.jsonl",
    "topics": "topics.train.jsonl",
    "languages": "languages.train.jsonl",
}


def load_project_training() -> dict[str, list[Example]]:
    data = {
        "intents": read_jsonl(project_file(PROJECT_FILES["intents"]), require="intent"),
        "topics": read_jsonl(project_file(PROJECT_FILES["topics"]), require="topics"),
        "languages": read_jsonl(project_file(PROJECT_FILES["languages"]), require="lang"),
    }
    for ex in data["intents"] + data["topics"]:
        if ex.lang not in SUPPORTED_LANGUAGES:
            raise DataError(f"project data in an unsupported language: {ex.lang!r}: {ex.text!r}")
    for ex in data["intents"]:
        if ex.intent not in INTENTS:
            raise DataError(f"unknown intent in project data: {ex.intent!r}: {ex.text!r}")
    return data


def train_project_bundle(out: Path, config: TrainConfig | None = None) -> Manifest:
    """Train the language identifier and the intent and topic classifiers; save to ``out``."""
    config = config or TrainConfig()
    data = load_project_training()
    tokenizers = Tokenizers()
    intents = data["intents"]
    threshold = start_calibration(intents, INTENTS, config, "en")
    fix_random_seed(config.seed)
    classifier = spacy.blank("xx")
    _train_intents(classifier, augment_for(intents, config), INTENTS, config, tokenizers, "en")
    train_topics(classifier, data["topics"] + intents, config, tokenizers)
    fix_random_seed(config.seed)
    language = train_language_identifier(data, config)
    manifest = Manifest(
        kind="bundle",
        languages=SUPPORTED_LANGUAGES,
        intents=INTENTS,
        oos_label=OUT_OF_SCOPE,
        oos_threshold=round(threshold(), 4),
        topics=TOPICS,
        language_labels=SUPPORTED_LANGUAGES + OTHER_LANGUAGES,
        seed=config.seed,
        sources={name: _sha256(project_file(f)) for name, f in PROJECT_FILES.items()},
        spacy_version=spacy.__version__,
    )

    def save(tmp: Path) -> None:
        language.to_disk(tmp / LANGUAGE_DIR)
        classifier.to_disk(tmp / CLASSIFIER_DIR)
        write_manifest(tmp, manifest)

    replace_dir(out, save)
    return manifest


def train_topics(
    nlp: Language, examples: Sequence[Example], config: TrainConfig, tokenizers: Tokenizers
) -> None:
    """Train the topic classifiers: which topics a text is about, and which one comes first.

    The multi-label classifier scores each topic on its own; the single-label one (with a
    "none" class) learns which topic is the primary one. Texts without topics teach both
    what "no topic" looks like.
    """
    examples = augment_for(examples, config)
    docs = [tokenizers(_lang(ex, "en"), ex.text) for ex in examples]
    train_classifier(
        nlp,
        TOPIC_PIPE,
        TOPICS,
        [(doc, multi_hot(ex.topics, TOPICS)) for doc, ex in zip(docs, examples, strict=True)],
        config,
        exclusive=False,
        model=classifier_config(False, config.topic_length, TOPIC_FEATURES),
    )
    labels = (*TOPICS, NO_TOPIC)
    train_classifier(
        nlp,
        PRIMARY_TOPIC_PIPE,
        labels,
        [
            (doc, one_hot(ex.topics[0] if ex.topics else NO_TOPIC, labels))
            for doc, ex in zip(docs, examples, strict=True)
        ],
        config,
        exclusive=True,
        model=classifier_config(True, config.topic_length, TOPIC_FEATURES),
    )


def train_language_identifier(data: dict[str, list[Example]], config: TrainConfig) -> Language:
    labels = SUPPORTED_LANGUAGES + OTHER_LANGUAGES
    texts = data["intents"] + data["topics"]
    # Words shared by several languages ("ok", "help", "stop") teach nothing about language.
    langs_of: dict[str, set[str | None]] = defaultdict(set)
    for ex in texts + data["languages"]:
        langs_of[ex.text.lower()].add(ex.lang)
    distinct = [ex for ex in texts if len(langs_of[ex.text.lower()]) == 1]
    others = [ex for ex in data["languages"] if len(langs_of[ex.text.lower()]) == 1]
    # The other languages have far fewer texts: more noisy copies keep the classes balanced.
    per_other = max(1, len(distinct) // max(1, len(SUPPORTED_LANGUAGES) * len(others)))
    examples = augment_for(distinct, config, copies=1) + augment_for(
        others, config, copies=per_other
    )
    nlp = spacy.blank("xx")
    train_classifier(
        nlp,
        LANGUAGE_PIPE,
        labels,
        [(nlp.make_doc(ex.text), one_hot(ex.lang or "", labels)) for ex in examples],
        config,
        exclusive=True,
        model=classifier_config(True, config.language_length, LANGUAGE_FEATURES),
    )
    return nlp


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def replace_dir(out: Path, write: Callable[[Path], object]) -> None:
    """Write into a sibling directory, then swap it in: a failed run leaves ``out`` intact."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
