"""What the rest of innobot gets from ``nlp.pipeline``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from handlers.context import Analysis, TextAnalyzer
from nlp.labels import INTENTS, OUT_OF_SCOPE, TOPICS
from nlp.pipeline import (
    CANDIDATE_MIN_SCORE,
    CONFIDENCE_THRESHOLD,
    MAX_TOPICS,
    Pipeline,
    default_pipeline,
    intent_candidates,
)


def test_is_the_routers_text_analyzer(pipeline: Pipeline) -> None:
    analyzer: TextAnalyzer = pipeline
    assert isinstance(analyzer.analyze("hello"), Analysis)


@pytest.mark.parametrize(
    ("text", "lang", "intent"),
    [
        ("Hello there!", "en", "greeting"),
        ("ciao a tutti", "it", "greeting"),
        ("hej hej", "sv", "greeting"),
        ("I have an idea about reusing rainwater in our school", "en", "submit_idea"),
        ("vorrei proporre un'idea per il mio quartiere", "it", "submit_idea"),
        ("jag vill lämna en idé om cykelbanor", "sv", "submit_idea"),
        ("stop sending me notifications", "en", "unsubscribe_alerts"),
        ("quali sfide sono aperte?", "it", "browse_challenges"),
        ("radera mitt konto", "sv", "privacy"),
        ("what's the weather tomorrow", "en", OUT_OF_SCOPE),
    ],
)
def test_understands_en_it_sv(pipeline: Pipeline, text: str, lang: str, intent: str) -> None:
    analysis = pipeline.analyze(text)
    assert (analysis.lang, analysis.intent) == (lang, intent)


def test_topics_primary_first_with_scores(pipeline: Pipeline) -> None:
    analysis = pipeline.analyze(
        "We want to produce green hydrogen from solar power for the town's buses"
    )
    assert analysis.topics[0][0] == "energy"
    assert 1 <= len(analysis.topics) <= MAX_TOPICS
    assert all(label in TOPICS and 0.0 <= score <= 1.0 for label, score in analysis.topics)
    assert len({label for label, _ in analysis.topics}) == len(analysis.topics)


def test_small_talk_has_no_topics(pipeline: Pipeline) -> None:
    assert pipeline.analyze("hello, how are you?").topics == ()


def test_confidence_and_candidates(pipeline: Pipeline) -> None:
    sure = pipeline.classify("I want to unsubscribe from all alerts")
    assert sure.confident
    assert sure.intent_score >= CONFIDENCE_THRESHOLD
    assert sure.analysis.confident

    unsure = pipeline.classify("companies")
    candidates = unsure.candidates(3)
    assert len(candidates) <= 3
    assert all(
        label != OUT_OF_SCOPE and score >= CANDIDATE_MIN_SCORE for label, score in candidates
    )
    assert [s for _, s in candidates] == sorted((s for _, s in candidates), reverse=True)
    assert unsure.analysis.candidates == unsure.candidates()


def test_every_intent_is_ranked(pipeline: Pipeline) -> None:
    c = pipeline.classify("how do I find a lab to test my prototype")
    assert sorted(label for label, _ in c.intents) == sorted(INTENTS)
    assert c.intents[0][0] == c.intent == "find_infrastructure"
    assert abs(sum(score for _, score in c.intents) - 1.0) < 0.01


def test_intent_candidates_function(pipeline: Pipeline) -> None:
    text = "looking for partners or a lab"
    c = pipeline.classify(text)
    assert intent_candidates(c, k=2) == c.candidates(2)
    assert intent_candidates(text, k=2, pipeline=pipeline) == c.candidates(2)
    assert pipeline.intent_candidates(text, k=2) == c.candidates(2)


def test_analyze_many_matches_analyze(pipeline: Pipeline) -> None:
    texts = ["hello", "", "ciao, ho un'idea", "🙂", "visa öppna utmaningar", "Guten Tag"]
    assert pipeline.analyze_many(texts) == [pipeline.analyze(t) for t in texts]


def test_safe_to_share_between_threads(pipeline: Pipeline) -> None:
    texts = ["I have an idea", "hej", "cancella i miei dati", "show me open calls"] * 50
    expected = [pipeline.analyze(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(pipeline.analyze, texts)) == expected


def test_default_pipeline_is_loaded_once() -> None:
    assert default_pipeline() is default_pipeline()
