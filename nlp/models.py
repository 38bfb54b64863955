"""Model directories: their layout, their manifest, and loading them with clear errors.

A bundle (what innobot ships in ``nlp/models/``)::

    manifest.json
    language/     spaCy pipeline (blank "xx") with the "language" classifier
    classifier/   spaCy pipeline (blank "xx") with the "intent", "topics" and "primary_topic"
                  classifiers,
                  shared by all languages: each text is tokenized by ``spacy.blank(<its
                  language>)`` first, so Italian elisions and Swedish abbreviations split right

An intent model (``innobot nlp train --intents FILE --out DIR``)::

    manifest.json
    classifier/   spaCy pipeline with the "intent" classifier
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import spacy
from spacy.language import Language

import nlp.features  # noqa: F401  (registers the classifier architecture before loading)

MANIFEST = "manifest.json"
FORMAT = 1
LANGUAGE_DIR = "language"
CLASSIFIER_DIR = "classifier"
LANGUAGE_PIPE = "language"
INTENT_PIPE = "intent"
TOPIC_PIPE = "topics"
PRIMARY_TOPIC_PIPE = "primary_topic"
NO_TOPIC = "none"  # the primary-topic classifier's label for texts about no topic
REBUILD_COMMAND = "innobot nlp train"


class ModelError(RuntimeError):
    """A model directory is missing or unusable. The message says where and how to rebuild it."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a model directory holds and how it was made."""

    kind: Literal["bundle", "intent"]
    languages: tuple[str, ...]
    intents: tuple[str, ...]
    oos_label: str | None
    # An in-scope intent whose score is below this counts as out of scope.
    oos_threshold: float
    topics: tuple[str, ...] = ()
    language_labels: tuple[str, ...] = ()
    seed: int = 0
    sources: dict[str, str] = field(default_factory=dict)
    spacy_version: str = ""
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            kind=data["kind"],
            languages=tuple(data["languages"]),
            intents=tuple(data["intents"]),
            oos_label=data.get("oos_label"),
            oos_threshold=float(data["oos_threshold"]),
            topics=tuple(data.get("topics", ())),
            language_labels=tuple(data.get("language_labels", ())),
            seed=int(data.get("seed", 0)),
            sources=dict(data.get("sources", {})),
            spacy_version=str(data.get("spacy_version", "")),
            format=int(data.get("format", FORMAT)),
        )


def shipped_model_dir() -> Path:
    """``nlp/models`` inside the installed package."""
    return Path(str(resources.files("nlp") / "models"))


def write_manifest(directory: Path, manifest: Manifest) -> None:
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def _problem(directory: Path, what: str, rebuild: str) -> ModelError:
    return ModelError(f"NLP model directory {directory} {what}; rebuild it with `{rebuild}`")


def rebuild_hint(directory: Path) -> str:
    if directory.resolve() == shipped_model_dir().resolve():
        return REBUILD_COMMAND
    return f"{REBUILD_COMMAND} --out {directory}"


def read_manifest(directory: Path) -> Manifest:
    rebuild = rebuild_hint(directory)
    if not directory.is_dir():
        raise _problem(directory, "does not exist", rebuild)
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest.from_json(data)
    except FileNotFoundError:
        raise _problem(directory, f"has no {MANIFEST}", rebuild) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _problem(directory, f"has an unreadable {MANIFEST} ({exc})", rebuild) from exc
    if manifest.format != FORMAT:
        raise _problem(directory, f"has format {manifest.format}, expected {FORMAT}", rebuild)
    return manifest


def load_spacy(directory: Path, name: str, pipes: tuple[str, ...]) -> Language:
    """Load the spaCy pipeline ``directory/name``, checking it has ``pipes``."""
    path = directory / name
    rebuild = rebuild_hint(directory)
    if not path.is_dir():
        raise _problem(directory, f"is missing {name}/", rebuild)
    try:
        nlp = spacy.load(path)
    except Exception as exc:  # spaCy raises many kinds on damaged files
        raise _problem(
            directory, f"has a damaged {name}/ ({type(exc).__name__}: {exc})", rebuild
        ) from exc
    missing = [pipe for pipe in pipes if pipe not in nlp.pipe_names]
    if missing:
        raise _problem(directory, f"has no {missing} in {name}/", rebuild)
    return nlp
