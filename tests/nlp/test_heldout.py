"""The shipped models on the project's held-out data meet the figures innobot is built for.

Training is seeded and the models are committed, so these figures are the same on every run
(docs/nlp.md reports them).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from nlp.data import project_file, read_jsonl
from nlp.evaluation import evaluate_project
from nlp.labels import SUPPORTED_LANGUAGES
from nlp.models import read_manifest, shipped_model_dir
from nlp.pipeline import Pipeline
from nlp.training import PROJECT_FILES


@pytest.fixture(scope="module")
def result(pipeline: Pipeline) -> dict[str, Any]:
    return evaluate_project(
        pipeline,
        read_jsonl(project_file("intents.heldout.jsonl"), require="intent"),
        read_jsonl(project_file("topics.heldout.jsonl"), require="topics"),
        read_jsonl(project_file("languages.heldout.jsonl"), require="lang"),
    )


def test_intents_overall(result: dict[str, Any]) -> None:
    overall = result["intents"]["overall"]
    assert overall.accuracy >= 0.90
    assert overall.macro_f1 >= 0.88


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_intents_in_each_language(result: dict[str, Any], lang: str) -> None:
    report = result["intents"]["languages"][lang]
    assert report.n >= 150
    assert report.accuracy >= 0.90
    assert report.macro_f1 >= 0.88


def test_primary_topic(result: dict[str, Any]) -> None:
    assert result["topics"]["primary"].n >= 250
    assert result["topics"]["primary"].accuracy >= 0.85


def test_language_identification(result: dict[str, Any]) -> None:
    assert result["language"]["supported"].n >= 700
    assert result["language"]["supported_accuracy"] >= 0.98


def test_heldout_texts_never_appear_in_training() -> None:
    def key(text: str) -> str:
        return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())

    training = {
        (ex.lang, key(ex.text))
        for name in ("intents.train.jsonl", "topics.train.jsonl", "languages.train.jsonl")
        for ex in read_jsonl(project_file(name))
    }
    for name in ("intents.heldout.jsonl", "topics.heldout.jsonl", "languages.heldout.jsonl"):
        leaked = [
            ex.text for ex in read_jsonl(project_file(name)) if (ex.lang, key(ex.text)) in training
        ]
        assert leaked == [], name


def test_shipped_models_were_trained_on_the_training_files_as_they_are() -> None:
    manifest = read_manifest(shipped_model_dir())
    current = {
        name: hashlib.sha256(project_file(file).read_bytes()).hexdigest()
        for name, file in PROJECT_FILES.items()
    }
    assert manifest.sources == current, "run `innobot nlp train` and commit nlp/models"
