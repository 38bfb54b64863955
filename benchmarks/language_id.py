"""Language identification: innobot's own spaCy component against two well-kept libraries.

Why innobot identifies languages with a classifier of its own rather than a library is answered
by this measurement: accuracy on the project's held-out texts (en/it/sv chat messages, most of
them short) and on the held-out texts in other languages, and messages per second, all on the
same texts in one run.

    .venv/bin/python benchmarks/language_id.py

The libraries are optional (``pip install -e '.[bench]'``, which ``make bench`` does):
py3langid (langid.py's model, 97 languages) and Lingua (n-gram models of 75 languages). Each is
measured twice where it allows it: free to answer any language it knows, and restricted to the
languages innobot's identifier knows (en, it, sv, de, fr, es, pt, nl). A library that is not
installed is reported as such.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nlp.data import project_file, read_jsonl
from nlp.labels import OTHER_LANGUAGES, SUPPORTED_LANGUAGES
from nlp.pipeline import Pipeline

KNOWN = (*SUPPORTED_LANGUAGES, *OTHER_LANGUAGES)
Identify = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Texts:
    supported: list[tuple[str, str]]  # (text, language) in en/it/sv
    others: list[tuple[str, str]]  # in the other languages

    @property
    def short(self) -> list[tuple[str, str]]:
        return [(text, lang) for text, lang in self.supported if len(text.split()) <= 4]


def held_out() -> Texts:
    supported = [
        (ex.text, ex.lang or "")
        for name in ("intents.heldout.jsonl", "topics.heldout.jsonl")
        for ex in read_jsonl(project_file(name))
    ]
    others = [
        (ex.text, ex.lang or "")
        for ex in read_jsonl(project_file("languages.heldout.jsonl"))
        if ex.lang not in SUPPORTED_LANGUAGES
    ]
    return Texts(supported, others)


def accuracy(identify: Identify, pairs: Sequence[tuple[str, str]]) -> float:
    if not pairs:
        return float("nan")
    return sum(identify(text) == lang for text, lang in pairs) / len(pairs)


def speed(identify: Identify, texts: Sequence[str], rounds: int = 5) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            identify(text)
    return rounds * len(texts) / (time.perf_counter() - started)


def innobot() -> Identify:
    pipeline = Pipeline.load()
    return lambda text: pipeline.detect_language(text)[0]


def py3langid(restricted: bool) -> Identify | None:
    if importlib.util.find_spec("py3langid") is None:
        return None
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE)
    if restricted:
        identifier.set_languages(list(KNOWN))
    return lambda text: str(identifier.classify(text)[0])


def lingua(restricted: bool) -> Identify | None:
    if importlib.util.find_spec("lingua") is None:
        return None
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    if restricted:
        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in KNOWN]
        builder = LanguageDetectorBuilder.from_languages(*languages)
    else:
        builder = LanguageDetectorBuilder.from_all_languages()
    detector = builder.with_preloaded_language_models().build()

    def identify(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "unknown"

    return identify


def main() -> None:
    texts = held_out()
    print(
        f"held-out texts: {len(texts.supported)} en/it/sv ({len(texts.short)} of at most four "
        f"words), {len(texts.others)} in {', '.join(OTHER_LANGUAGES)}"
    )
    candidates: list[tuple[str, Callable[[], Identify | None]]] = [
        ("innobot (spaCy component, nlp/models/language)", innobot),
        # Restricted first: Lingua keeps loaded language models for the detectors built after.
        ("py3langid 0.3.0, restricted to innobot's 8", lambda: py3langid(True)),
        ("py3langid 0.3.0, any of its 97 languages", lambda: py3langid(False)),
        ("lingua 2.1.1, restricted to innobot's 8", lambda: lingua(True)),
        ("lingua 2.1.1, any of its 75 languages", lambda: lingua(False)),
    ]
    sample = [text for text, _ in texts.supported]
    print(f"{'identifier':50} {'en/it/sv':>9} {'short':>7} {'others':>7} {'msg/s':>9}")
    for name, make in candidates:
        started = time.perf_counter()
        identify = make()
        if identify is None:
            print(f"{name:50} not installed (pip install -e '.[bench]')")
            continue
        identify("warm up")
        load = time.perf_counter() - started
        print(
            f"{name:50} {accuracy(identify, texts.supported):9.4f}"
            f" {accuracy(identify, texts.short):7.4f} {accuracy(identify, texts.others):7.4f}"
            f" {speed(identify, sample):9,.0f}   (load {load:.2f} s)"
        )


if __name__ == "__main__":
    main()
