"""Whatever text arrives, analysis answers; a broken model directory is reported clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handlers.context import Analysis
from nlp.labels import OUT_OF_SCOPE, UNKNOWN_LANGUAGE
from nlp.models import ModelError, shipped_model_dir
from nlp.pipeline import MAX_CHARS, Pipeline


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "👋", "🙂🙂🙂", "!!!", "…"])
def test_no_words_is_out_of_scope_with_no_confidence(pipeline: Pipeline, text: str) -> None:
    analysis = pipeline.analyze(text)
    assert analysis == Analysis(UNKNOWN_LANGUAGE, OUT_OF_SCOPE, 0.0, (), confident=False)


def test_ten_thousand_characters(pipeline: Pipeline) -> None:
    text = ("I have an idea about solar panels on school roofs. " * 200)[:10_000]
    analysis = pipeline.analyze(text)
    assert analysis.lang == "en"
    assert analysis.intent == "submit_idea"
    assert analysis.topics
    assert analysis.topics[0][0] == "energy"


def test_only_the_beginning_of_a_huge_text_is_read(pipeline: Pipeline) -> None:
    head = "vorrei proporre un'idea sui pannelli solari nelle scuole "
    text = head * (MAX_CHARS // len(head) + 1) + "zzz " * 100_000
    assert pipeline.analyze(text) == pipeline.analyze(text[:MAX_CHARS])


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 binary \x7f garbage \udcff\udcfe",  # control characters, lone surrogates
        "\ufffd\ufffd\ufffd",
        "a" * 5000,
        "🙂 " * 3000,
        "\u202e reversed \u200b zero width",
        "12345 67890",
    ],
)
def test_garbage_never_raises(pipeline: Pipeline, text: str) -> None:
    analysis = pipeline.analyze(text)
    assert isinstance(analysis.intent, str)
    assert 0.0 <= analysis.intent_score <= 1.0


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Ich möchte meine Idee für ein Solarprojekt in unserer Gemeinde einreichen", "de"),
        ("Nous cherchons un laboratoire pour tester notre prototype", "fr"),
        ("Здравствуйте, я хочу предложить идею", UNKNOWN_LANGUAGE),
        ("我有一个关于太阳能的想法", "zh"),
        ("Καλημέρα, έχω μια ιδέα", "el"),
    ],
)
def test_other_languages_are_reported_and_not_acted_on(
    pipeline: Pipeline, text: str, lang: str
) -> None:
    analysis = pipeline.analyze(text)
    assert analysis.lang == lang
    assert analysis.intent == OUT_OF_SCOPE
    assert not analysis.confident


def test_missing_model_dir(tmp_path: Path) -> None:
    missing = tmp_path / "models"
    with pytest.raises(ModelError) as caught:
        Pipeline.load(missing)
    assert str(missing) in str(caught.value)
    assert "innobot nlp train" in str(caught.value)


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(shipped_model_dir(), copy)
    return copy


def test_unreadable_manifest(model_copy: Path) -> None:
    (model_copy / "manifest.json").write_bytes(b"\x00not json")
    with pytest.raises(ModelError, match=r"manifest\.json.*innobot nlp train"):
        Pipeline.load(model_copy)


def test_missing_component(model_copy: Path) -> None:
    shutil.rmtree(model_copy / "classifier")
    with pytest.raises(ModelError, match=r"missing classifier/.*innobot nlp train --out"):
        Pipeline.load(model_copy)


def test_damaged_weights(model_copy: Path) -> None:
    weights = model_copy / "classifier" / "intent" / "model"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError) as caught:
        Pipeline.load(model_copy)
    assert str(model_copy) in str(caught.value)
    assert "damaged classifier/" in str(caught.value)


def test_an_intent_model_is_not_a_bundle(tmp_path: Path, model_copy: Path) -> None:
    manifest = model_copy / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"kind": "bundle"', '"kind": "intent"'))
    with pytest.raises(ModelError, match="intent model"):
        Pipeline.load(model_copy)
