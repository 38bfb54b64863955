"""The matching engine: across languages and vocabulary, with a reason for every result."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from nlp.labels import TOPICS
from nlp.matching import Document, MatchingEngine, explain
from nlp.matching.analysis import Analyzer, ConceptMatcher
from nlp.matching.concepts import CONCEPTS, FAMILIES
from nlp.matching.evaluate import DataError, evaluate, read_documents
from nlp.matching.lexicon import LEXICON
from nlp.matching.text import fold, guess_language, stem, tokens

PROFILES = [
    Document(
        "vision",
        "Machine vision for surface defects",
        "Camera-based inspection cells find flaws on metal parts in real time.",
        "en",
    ),
    Document(
        "heat",
        "Pompe di calore geotermiche per edifici pubblici",
        "Impianti geotermici per scuole e case di riposo, al posto delle caldaie a gasolio.",
        "it",
    ),
    Document(
        "leaks",
        "Läcksökning i vattenledningsnät",
        "Vi hittar läckor i kommunala vattenledningar med akustiska sensorer.",
        "sv",
    ),
    Document(
        "bikes",
        "Bike sharing for small towns",
        "Bicycles and e-bikes with solar-powered docks and an app.",
        "en",
        kind="idea",
    ),
    Document(
        "erp", "Gestionale per piccole imprese", "Fatturazione, magazzino e contabilità.", "it"
    ),
]


@pytest.fixture(scope="module")
def engine() -> MatchingEngine:
    built = MatchingEngine()
    built.add_all(PROFILES)
    return built


def test_a_need_in_other_words_finds_the_offer(engine: MatchingEngine) -> None:
    need = Document(
        "c",
        "Detecting scratches on stamped parts",
        "Dents and scratches slip through to the customer.",
        "en",
    )
    best = engine.rank(need, 3)[0]
    assert best.id == "vision"
    assert "surface_defects" in best.why.concepts


@pytest.mark.parametrize(
    ("need", "expected"),
    [
        (
            Document(
                "c",
                "Fossilfri uppvärmning av skolor",
                "Kommunen vill värma skolor och äldreboenden utan olja.",
                "sv",
            ),
            "heat",
        ),
        (
            Document(
                "c",
                "Trovare le perdite dell'acquedotto",
                "Perdiamo il 40 per cento dell'acqua nelle tubature.",
                "it",
            ),
            "leaks",
        ),
        (
            Document(
                "c",
                "Riconoscere i graffi sui pezzi stampati",
                "Cerchiamo un controllo automatico dei difetti dei pezzi in metallo.",
                "it",
            ),
            "vision",
        ),
    ],
)
def test_a_need_in_one_language_finds_an_offer_in_another(
    engine: MatchingEngine, need: Document, expected: str
) -> None:
    ranked = engine.rank(need, 2)
    assert ranked[0].id == expected
    assert ranked[0].why.concepts or ranked[0].why.terms


def test_every_result_says_why_in_the_readers_language(engine: MatchingEngine) -> None:
    need = Document(
        "c",
        "Scuole che consumano meno energia",
        "Caldaie a gasolio da sostituire con pompe di calore.",
        "it",
    )
    best = engine.rank(need, 1)[0]
    assert "pompe di calore" in explain(best.why, "it")
    assert "värmepumpar" in explain(best.why, "sv")
    assert "heat pumps" in explain(best.why, "en")
    assert explain(best.why, "it").count("scuole") == 1


def test_scores_kinds_exclusions_and_thresholds(engine: MatchingEngine) -> None:
    need = Document("bikes", "Shared bicycles in town", "E-bikes for residents.", "en")
    everything = engine.rank(need, 10)
    assert all(0 < r.score <= 1 for r in everything)
    assert [r.score for r in everything] == sorted((r.score for r in everything), reverse=True)
    assert engine.rank(need, 10, kinds={"idea"})[0].id == "bikes"
    assert "bikes" not in {r.id for r in engine.rank(need, 10, exclude={"bikes"})}
    assert engine.rank(need, 10, kinds={"nothing"}) == []
    assert all(r.score >= 0.5 for r in engine.rank(need, 10, min_score=0.5))
    assert engine.rank(Document("x", "qwzx vbnm", "", "en"), 5) == []


def test_adding_a_document_again_replaces_it() -> None:
    engine = MatchingEngine()
    engine.add(Document("a", "Heat pumps", "Geothermal heat pumps for schools.", "en"))
    need = Document("c", "Leaks in water pipes", "Acoustic leak detection.", "en")
    assert engine.rank(need, 5, min_score=0.05) == []
    engine.add(Document("a", "Leak detection", "Acoustic sensors find leaks in pipes.", "en"))
    assert [r.id for r in engine.rank(need, 5, min_score=0.05)] == ["a"]
    assert len(engine) == 1


def test_words_are_folded_stemmed_and_languages_guessed() -> None:
    assert fold("Perché") == "perche"
    assert fold("Spåra") == "spåra"  # å is a letter of its own in Swedish
    assert stem("sensori", "it") == stem("sensore", "it")
    assert stem("batteries", "en") == stem("battery", "en")
    assert stem("läckorna", "sv") == stem("läckor", "sv")
    assert guess_language(tokens("vi vill att det blir bättre för alla")) == "sv"
    assert guess_language(tokens("vogliamo che la città sia più pulita")) == "it"
    assert guess_language(tokens("we want the city to be cleaner for all")) == "en"
    assert guess_language(tokens("xyz qwe")) is None


def test_swedish_compounds_are_read_from_their_last_part() -> None:
    matcher = ConceptMatcher()
    assert "route_optimisation" in matcher.find(["tömningsrutterna"], "sv")
    # "yrkeserfa|renhet" is no seam: experience is not purity.
    assert "hydrometallurgy" not in matcher.find(["yrkeserfarenhet"], "sv")


def test_long_and_odd_texts_are_handled() -> None:
    analyzer = Analyzer()
    long = analyzer.analyze("t", "energia " * 100_000, "it")
    assert long.length < 10_000
    odd = analyzer.analyze("\u200f🙂\x00", "‮ ‭", None)
    assert odd.lang is None
    assert odd.features == {}


def test_the_vocabularies_are_complete() -> None:
    for concept in CONCEPTS:
        assert set(concept.labels) == {"en", "it", "sv"}, concept.id
        assert all(concept.patterns[lang] for lang in ("en", "it", "sv")), concept.id
        assert set(concept.topics) <= set(TOPICS), concept.id
        assert concept.family is None or concept.family in FAMILIES, concept.id
    assert {topic for concept in CONCEPTS for topic in concept.topics} == set(TOPICS)
    assert len(CONCEPTS) >= 150
    assert len(LEXICON) >= 200
    for family in FAMILIES.values():
        assert set(family) == {"en", "it", "sv"}


def test_documents_from_json_are_validated() -> None:
    doc = Document.from_json(
        {"id": 7, "title": "T", "description": "D", "lang": "it", "topics": ["energy"]}
    )
    assert (doc.id, doc.lang, doc.topics) == ("7", "it", ("energy",))
    for bad in (
        {},
        {"id": "x"},
        {"id": True, "title": "t"},
        {"id": "x", "title": 3},
        {"id": "x", "title": "t", "topics": "energy"},
        [1, 2],
    ):
        with pytest.raises(ValueError, match=r"."):
            Document.from_json(bad)  # type: ignore[arg-type]


def test_the_evaluation_meets_the_targets() -> None:
    reports = evaluate()
    engine, bm25 = reports["engine"], reports["bm25"]
    assert engine.overall.queries >= 40
    assert engine.overall.mrr >= 0.85
    assert engine.cross_language.mrr >= 0.85
    assert engine.overall.recall - bm25.overall.recall >= 0.10
    assert engine.cross_language.recall - bm25.cross_language.recall >= 0.10


def test_the_evaluation_set_is_big_enough_and_multilingual() -> None:
    folder = Path(__file__).resolve().parents[2] / "nlp" / "data" / "matching"
    challenges = read_documents(folder / "challenges.jsonl")
    profiles = read_documents(folder / "profiles.jsonl")
    assert len(challenges) >= 40
    assert len(profiles) >= 150
    for lang in ("en", "it", "sv"):
        assert sum(c.lang == lang for c in challenges) >= 10
        assert sum(p.lang == lang for p in profiles) >= 40


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", "utf-8")
    return path


def test_the_match_command_writes_one_line_per_challenge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    challenges = _write(
        tmp_path / "c.jsonl",
        [
            {
                "id": "c1",
                "title": "Rilevare i graffi",
                "description": "Difetti superficiali sui pezzi",
                "lang": "it",
            },
            {"id": "c2", "title": "Heat for schools", "description": "Replace oil boilers"},
        ],
    )
    profiles = _write(
        tmp_path / "p.jsonl",
        [
            {"id": "p1", "title": "Machine vision for surface defects", "lang": "en"},
            {
                "id": "p2",
                "title": "Värmepumpar för skolor",
                "description": "Ersätter oljepannor",
                "lang": "sv",
                "kind": "solution",
            },
        ],
    )
    assert (
        main(["match", "--challenges", str(challenges), "--profiles", str(profiles), "--top", "1"])
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["challenge"] for line in lines] == ["c1", "c2"]
    assert [line["ranked"][0]["id"] for line in lines] == ["p1", "p2"]
    first = lines[0]["ranked"][0]
    assert set(first) == {"id", "score", "why"}
    assert set(first["why"]) == {"topics", "concepts", "families", "terms"}
    assert "surface_defects" in first["why"]["concepts"]


def test_the_match_command_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path / "good.jsonl", [{"id": "p", "title": "t"}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "c1", "title": "ok"}\nnot json\n', "utf-8")
    assert main(["match", "--challenges", str(broken), "--profiles", str(good)]) == 2
    assert "broken.jsonl:2: not JSON" in capsys.readouterr().err
    twice = _write(tmp_path / "twice.jsonl", [{"id": "p", "title": "a"}, {"id": "p", "title": "b"}])
    assert main(["match", "--challenges", str(good), "--profiles", str(twice)]) == 2
    assert "appears twice" in capsys.readouterr().err
    missing = tmp_path / "missing.jsonl"
    assert main(["match", "--challenges", str(missing), "--profiles", str(good)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["match", "--profiles", str(good)]) == 2
    with pytest.raises(SystemExit):
        main(["match", "--challenges", str(good), "--profiles", str(good), "--top", "0"])


def test_match_evaluate_prints_both_rankers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "evaluate"]) == 0
    out = capsys.readouterr().out
    assert "engine   all" in out
    assert "bm25     all" in out
    assert "cross-language" in out


def test_evaluate_refuses_unknown_gold_ids(tmp_path: Path) -> None:
    challenges = _write(tmp_path / "c.jsonl", [{"id": "c", "title": "t", "relevant": ["nope"]}])
    profiles = _write(tmp_path / "p.jsonl", [{"id": "p", "title": "t"}])
    with pytest.raises(DataError, match="unknown relevant"):
        evaluate(challenges, profiles)


def test_cli_output_is_utf8(tmp_path: Path) -> None:
    from nlp.matching.cli import run_match

    challenges = _write(tmp_path / "c.jsonl", [{"id": "ç", "title": "Värme åt skolor"}])
    out = io.StringIO()
    assert run_match(challenges, challenges, 1, out) == 0
    assert json.loads(out.getvalue())["challenge"] == "ç"
