"""Hashed bag-of-features text classifiers: word n-grams plus character n-grams of each word.

Character n-grams make the classifiers robust to the typos, missing accents and inflections of
real chat messages; the weights live in one hashed table (``length`` rows per label), so a model
stays a few megabytes whatever the vocabulary.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy
import spacy
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Logistic, Model, SparseLinear_v2, chain, resizable, softmax_activation
from thinc.layers.resizable import resize_linear_weighted

# A hashed key per distinct feature string, cached: chat vocabularies are small and repetitive.
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


class _Keys:
    """Turns words into hashed feature keys, remembering the words it has seen."""

    def __init__(self, char_min: int, char_max: int, fold_accents: bool, words: bool) -> None:
        self.char_min = char_min
        self.char_max = char_max
        self.fold_accents = fold_accents
        self.words = words
        self.cache: dict[str, tuple[int, numpy.ndarray]] = {}

    def __call__(self, word: str) -> tuple[int, numpy.ndarray]:
        """The word's own key and the keys of its character n-grams."""
        found = self.cache.get(word)
        if found is not None:
            return found
        norm = normalize_word(word, self.fold_accents)
        word_key = hash_string("w" + norm)
        padded = f"<{norm}>"
        grams = [
            padded[i : i + n]
            for n in range(self.char_min, self.char_max + 1)
            for i in range(len(padded) - n + 1)
        ]
        if self.char_max and len(padded) < self.char_min:
            grams.append(padded)
        keys = numpy.asarray([hash_string("c" + g) for g in grams], dtype="uint64")
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[word] = found = (word_key, keys)
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

    Word unigrams up to ``word_ngrams``-grams (0 for none) and character ``char_min``–``char_max``
    grams of each word (``char_max`` 0 for none). Each doc's values are scaled to unit length,
    so a long message is not more confident than a short one just because it is long.
    """
    keys = _Keys(char_min, char_max, fold_accents, words=word_ngrams > 0)
    model: Model[list[Doc], Features] = Model(
        "hashed_features",
        partial(_features_forward, keys=keys),
        attrs={
            "word_ngrams": word_ngrams,
            "char_min": char_min,
            "char_max": char_max,
            "fold_accents": fold_accents,
            "word_weight": word_weight,
            "skip_stop_words": skip_stop_words,
        },
    )
    return model


def _doc_features(
    doc: Doc,
    keys: _Keys,
    word_ngrams: int,
    use_chars: bool,
    word_weight: float,
    skip_stop: bool,
    model: Model[list[Doc], Features],
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The distinct feature keys of one doc and their values, scaled to unit length."""
    char_parts: list[numpy.ndarray] = []
    word_keys: list[int] = []
    for token in doc:
        if token.is_space or token.is_punct or (skip_stop and token.is_stop):
            continue
        word_key, char_keys = keys(token.text)
        word_keys.append(word_key)
        if use_chars:
            char_parts.append(char_keys)
    doc_keys: list[numpy.ndarray] = []
    doc_vals: list[numpy.ndarray] = []
    if char_parts:
        unique, counts = numpy.unique(numpy.concatenate(char_parts), return_counts=True)
        doc_keys.append(unique)
        doc_vals.append(counts.astype("float32"))
    if word_ngrams and word_keys:
        unigrams = numpy.asarray(word_keys, dtype="uint64")
        grams = [unigrams]
        for n in range(2, min(word_ngrams, len(unigrams)) + 1):
            grams.append(model.ops.ngrams(n, unigrams))
        unique, counts = numpy.unique(numpy.concatenate(grams), return_counts=True)
        doc_keys.append(unique)
        doc_vals.append(counts.astype("float32") * word_weight)
    if not doc_keys:
        return numpy.zeros((0,), dtype="uint64"), numpy.zeros((0,), dtype="float32")
    vals = numpy.concatenate(doc_vals)
    vals /= numpy.sqrt(numpy.dot(vals, vals))
    return numpy.concatenate(doc_keys), vals


def _features_forward(
    model: Model[list[Doc], Features], docs: list[Doc], is_train: bool, keys: _Keys
) -> tuple[Features, Callable[[Any], list[Any]]]:
    word_ngrams = int(model.attrs["word_ngrams"])
    use_chars = bool(model.attrs["char_max"])
    word_weight = float(model.attrs["word_weight"])
    skip_stop = bool(model.attrs["skip_stop_words"])
    cache_key = ("innobot_features", model.id)
    batch_keys: list[numpy.ndarray] = []
    batch_vals: list[numpy.ndarray] = []
    for doc in docs:
        cached = doc.user_data.get(cache_key) if is_train else None
        if cached is None:
            cached = _doc_features(doc, keys, word_ngrams, use_chars, word_weight, skip_stop, model)
            if is_train:
                # Training reads the same docs every epoch.
                doc.user_data[cache_key] = cached
        batch_keys.append(cached[0])
        batch_vals.append(cached[1])
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
    """A linear classifier over :func:`hashed_features`, softmax or one logistic per label."""
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": _NEG_BIAS, "W": 0}
    resizable_layer = resizable(
        sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults)
    )
    output_layer = softmax_activation() if exclusive_classes else Logistic()
    model: Model[list[Doc], Any] = chain(
        hashed_features(
            word_ngrams, char_min, char_max, fold_accents, word_weight, skip_stop_words
        ),
        resizable_layer,
        output_layer,
    )
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(_resize, resizable_layer=resizable_layer)
    return model


def _resize(
    model: Model[Any, Any], new_nO: int, resizable_layer: Model[Any, Any]
) -> Model[Any, Any]:
    from thinc.layers.resizable import resize_model

    resizable_layer = resize_model(resizable_layer, new_nO)
    model.set_ref("output_layer", resizable_layer.layers[0])
    model.set_dim("nO", new_nO, force=True)
    return model
