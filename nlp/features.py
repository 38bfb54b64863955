"""Hashed bag-of-features text classifiers: word n-grams plus character n-grams of each word.

Character n-grams make the classifiers robust to the typos, missing accents and inflections of
real chat messages, and let Italian, Swedish and English share what their words share
("energia", "energi", "energy"). The weights live in one hashed table (``length`` rows per
label), so a model stays a few megabytes whatever the vocabulary.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy
import spacy
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Logistic, Model, SparseLinear_v2, chain, resizable, softmax_activation
from thinc.layers.resizable import resize_linear_weighted, resize_model

# Words whose keys are remembered: chat vocabularies are small and repetitive.
_CACHE_LIMIT = 200_000
_NEG_BIAS = -5000.0  # bias of a label added after training (never predicted until trained)

Features = tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]

# Languages whose own spaCy tokenizer is used; any other text is tokenized as "xx".
TOKENIZER_LANGUAGES = frozenset({"en", "it", "sv", "de", "fr", "es", "pt", "nl"})


class Tokenizers:
    """``spacy.blank(lang)`` tokenizers, made on first use: ``tokenizers(lang, text) -> Doc``."""

    def __init__(self) -> None:
        self._blank: dict[str, Language] = {}

    def __call__(self, lang: str, text: str) -> Doc:
        code = lang if lang in TOKENIZER_LANGUAGES else "xx"
        nlp = self._blank.get(code)
        if nlp is None:
            nlp = self._blank[code] = spacy.blank(code)
        return nlp.make_doc(text)


def normalize_word(word: str, fold_accents: bool) -> str:
    """Lower-case ``word``; without accents when ``fold_accents`` (``perché`` → ``perche``)."""
    word = word.lower()
    if fold_accents and not word.isascii():
        decomposed = unicodedata.normalize("NFKD", word)
        word = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return word


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """Which features a classifier reads."""

    word_ngrams: int = 2  # word unigrams up to n-grams; 0 for none
    char_min: int = 3
    char_max: int = 5  # character n-grams of each word; 0 for none
    fold_accents: bool = True
    word_weight: float = 1.0  # weight of word features against character ones
    skip_stop_words: bool = False


class _Keys:
    """Turns words into hashed feature keys, remembering the words it has seen."""

    def __init__(self, settings: FeatureSettings) -> None:
        self.settings = settings
        self.cache: dict[str, tuple[int, numpy.ndarray]] = {}

    def __call__(self, word: str) -> tuple[int, numpy.ndarray]:
        """The word's own key and the keys of its character n-grams."""
        found = self.cache.get(word)
        if found is not None:
            return found
        s = self.settings
        norm = normalize_word(word, s.fold_accents)
        padded = f"<{norm}>"
        grams = [
            padded[i : i + n]
            for n in range(s.char_min, s.char_max + 1)
            for i in range(len(padded) - n + 1)
        ]
        if s.char_max and len(padded) < s.char_min:
            grams.append(padded)
        keys = numpy.asarray([hash_string("c" + g) for g in grams], dtype="uint64")
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[word] = found = (hash_string("w" + norm), keys)
        return found


@registry.layers("innobot.hashed_features.v1")
def hashed_features(
    word_ngrams: int = 2,
    char_min: int = 3,
    char_max: int = 5,
    fold_accents: bool = True,
    word_weight: float = 1.0,
    skip_stop_words: bool = False,
) -> Model[list[Doc], Features]:
    """Keys, values and per-doc lengths for :class:`thinc.api.SparseLinear_v2`.

    Each doc's values are scaled to unit length, so that a long message is not more confident
    than a short one just because it is long.
    """
    settings = FeatureSettings(
        word_ngrams, char_min, char_max, fold_accents, word_weight, skip_stop_words
    )
    return Model(
        "hashed_features",
        partial(_features_forward, settings=settings, keys=_Keys(settings)),
    )


def doc_features(
    doc: Doc, settings: FeatureSettings, keys: _Keys, model: Model[Any, Any]
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The distinct feature keys of one doc and their values."""
    words: list[tuple[int, numpy.ndarray]] = [
        keys(token.text)
        for token in doc
        if not (token.is_space or token.is_punct or (settings.skip_stop_words and token.is_stop))
    ]
    if not words:
        return numpy.zeros((0,), dtype="uint64"), numpy.zeros((0,), dtype="float32")
    parts: list[numpy.ndarray] = []
    weights: list[numpy.ndarray] = []
    if settings.char_max:
        chars = numpy.concatenate([chars for _, chars in words])
        parts.append(chars)
        weights.append(numpy.ones(len(chars), dtype="float32"))
    if settings.word_ngrams:
        unigrams = numpy.asarray([word for word, _ in words], dtype="uint64")
        grams = [unigrams]
        for n in range(2, min(settings.word_ngrams, len(unigrams)) + 1):
            grams.append(model.ops.ngrams(n, unigrams))
        parts.extend(grams)
        weights.extend(numpy.full(len(g), settings.word_weight, dtype="float32") for g in grams)
    # One value per distinct key: the summed weights of its occurrences.
    unique, inverse = numpy.unique(numpy.concatenate(parts), return_inverse=True)
    vals = numpy.bincount(inverse, weights=numpy.concatenate(weights)).astype("float32")
    vals /= numpy.sqrt(numpy.dot(vals, vals))
    return unique, vals


def _features_forward(
    model: Model[list[Doc], Features],
    docs: list[Doc],
    is_train: bool,
    settings: FeatureSettings,
    keys: _Keys,
) -> tuple[Features, Callable[[Any], list[Any]]]:
    # Kept with the doc: training reads the same docs every epoch, and classifiers reading the
    # same features (the two topic classifiers) compute them once.
    cache_key = ("innobot_features", settings)
    batch_keys: list[numpy.ndarray] = []
    batch_vals: list[numpy.ndarray] = []
    for doc in docs:
        found = doc.user_data.get(cache_key)
        if found is None:
            found = doc.user_data[cache_key] = doc_features(doc, settings, keys, model)
        batch_keys.append(found[0])
        batch_vals.append(found[1])
    lengths = numpy.asarray([len(k) for k in batch_keys], dtype="int32")
    if batch_keys:
        all_keys = numpy.concatenate(batch_keys)
        all_vals = numpy.concatenate(batch_vals).astype("float32")
    else:
        all_keys = numpy.zeros((0,), dtype="uint64")
        all_vals = numpy.zeros((0,), dtype="float32")

    def backprop(d_features: Any) -> list[Any]:
        return []

    return (all_keys, all_vals, lengths), backprop


@registry.architectures("innobot.TextCatHashed.v1")
def build_hashed_text_classifier(
    exclusive_classes: bool,
    length: int = 2**17,
    word_ngrams: int = 2,
    char_min: int = 3,
    char_max: int = 5,
    fold_accents: bool = True,
    word_weight: float = 1.0,
    skip_stop_words: bool = False,
    nO: int | None = None,
) -> Model[list[Doc], Any]:
    """A linear classifier over :func:`hashed_features`: softmax, or one logistic per label."""
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": _NEG_BIAS, "W": 0}
    resizable_layer = resizable(
        sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults)
    )
    output_layer = softmax_activation() if exclusive_classes else Logistic()
    features = hashed_features(
        word_ngrams, char_min, char_max, fold_accents, word_weight, skip_stop_words
    )
    model: Model[list[Doc], Any] = chain(features, resizable_layer, output_layer)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(_resize, resizable_layer=resizable_layer)
    return model


def _resize(
    model: Model[Any, Any], new_nO: int, resizable_layer: Model[Any, Any]
) -> Model[Any, Any]:
    resizable_layer = resize_model(resizable_layer, new_nO)
    model.set_ref("output_layer", resizable_layer.layers[0])
    model.set_dim("nO", new_nO, force=True)
    return model
