"""``innobot nlp``: classify's JSONL, train and evaluate on any file, errors and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlp.cli import classify_stream, main
from nlp.labels import INTENTS, TOPICS
from nlp.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "nlp.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_classify_line_format(pipeline: Pipeline) -> None:
    source = io.BytesIO(
        b'{"text": "I have an idea about solar panels on schools", "id": 7}\n{"text": "ciao"}\n'
    )
    out = io.StringIO()
    assert classify_stream(pipeline, source, out) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(first) == {
        "id",
        "text",
        "language",
        "language_score",
        "intent",
        "intent_score",
        "candidates",
        "topics",
    }
    assert first["id"] == 7
    assert first["text"] == "I have an idea about solar panels on schools"
    assert (first["language"], first["intent"]) == ("en", "submit_idea")
    assert first["topics"][0] == {"label": "energy", "score": first["topics"][0]["score"]}
    assert all(t["label"] in TOPICS for t in first["topics"])
    assert all(c["label"] in INTENTS for c in first["candidates"])
    assert (second["language"], second["intent"]) == ("it", "greeting")
    assert "id" not in second


def test_classify_answers_every_line_even_garbage(pipeline: Pipeline) -> None:
    source = io.BytesIO(
        b'{"text": "hello"}\n'
        b"\xff\xfe\x00 not json at all\n"
        b"\n"
        b'{"text": "ciao \xff\xfe amici"}\n'
        b'{"no_text": 1}\n'
        b'["text"]\n'
        b'{"text": ""}\n'
    )
    out = io.StringIO()
    assert classify_stream(pipeline, source, out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("intent") for line in lines] == [
        "greeting",
        None,
        "greeting",
        None,
        None,
        "out_of_scope",
    ]
    assert lines[1] == {"line": 2, "error": lines[1]["error"]}
    assert lines[1]["error"].startswith("not JSON")
    assert lines[2]["text"] == "ciao \ufffd\ufffd amici"
    assert lines[3]["line"] == 5
    assert lines[4]["line"] == 6


def test_classify_command_with_invalid_utf8_on_stdin() -> None:
    done = _run(
        "classify", stdin=b'{"text": "hej, jag har en id\xc3\xa9 \xff"}\n\xc3\x28\x80garbage\n'
    )
    assert done.returncode == 1
    first, second = (json.loads(line) for line in done.stdout.decode().splitlines())
    assert first["language"] == "sv"
    assert first["intent"] == "submit_idea"
    assert second["line"] == 2
    assert b"1 line(s) could not be read" in done.stderr


def test_classify_command_with_a_missing_model() -> None:
    done = _run("classify", "--model", "/nonexistent/model", stdin=b'{"text": "hi"}\n')
    assert done.returncode == 4
    assert b"/nonexistent/model" in done.stderr
    assert b"innobot nlp train" in done.stderr


TINY = {
    "greeting": ["hello", "hi there", "good morning", "hey", "hello bot", "hi all", "morning"],
    "weather": [
        "will it rain today",
        "what's the weather",
        "is it sunny",
        "weather forecast please",
        "how cold is it",
        "is it going to snow",
        "temperature outside",
    ],
    "music": [
        "play a song",
        "put on some music",
        "play jazz",
        "next track",
        "play my playlist",
        "music please",
        "turn up the music",
    ],
    "oos": ["what is the capital of peru", "book a taxi"],
}


def _write(path: Path, items: dict[str, list[str]]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"text": text, "intent": intent}) + "\n"
            for intent, texts in items.items()
            for text in texts
        )
    )
    return path


def test_train_and_evaluate_any_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "train.jsonl", TINY)
    test = _write(
        tmp_path / "test.jsonl",
        {
            "greeting": ["hello there", "good morning bot"],
            "weather": ["will it snow", "weather today"],
            "music": ["play some jazz", "put on a song"],
            "oos": ["how tall is everest"],
        },
    )
    model = tmp_path / "model"
    assert main(["train", "--intents", str(data), "--out", str(model), "--epochs", "5"]) == 0
    assert (model / "manifest.json").is_file()
    assert "trained intent model" in capsys.readouterr().out

    assert main(["evaluate", "--model", str(model), str(test), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    overall = result["overall"]
    assert overall["n"] == 7
    assert set(overall["labels"]) >= {"greeting", "weather", "music", "oos"}
    assert {"precision", "recall", "f1", "support"} == set(overall["labels"]["music"])
    assert overall["accuracy"] >= 5 / 7
    oos = result["out_of_scope"]
    assert (oos["in_scope"], oos["oos"]) == (6, 1)
    assert 0.0 <= oos["in_scope_accuracy"] <= 1.0

    assert main(["evaluate", "--model", str(model), str(test)]) == 0
    text = capsys.readouterr().out
    assert "in-scope accuracy=" in text
    assert "out-of-scope recall=" in text
    assert "precision  recall" in text


def test_training_is_reproducible(tmp_path: Path) -> None:
    data = _write(tmp_path / "train.jsonl", TINY)
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["train", "--intents", str(data), "--out", str(out), "--epochs", "3"]) == 0
    first = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    second = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b").rglob("*")
        if p.is_file()
    }
    assert first == second


def test_classify_with_a_trained_intent_model(tmp_path: Path) -> None:
    model = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "--intents",
                str(_write(tmp_path / "t.jsonl", TINY)),
                "--out",
                str(model),
                "--epochs",
                "5",
            ]
        )
        == 0
    )
    done = _run("classify", "--model", str(model), stdin=b'{"text": "play some music"}\n')
    assert done.returncode == 0
    line = json.loads(done.stdout)
    assert line["intent"] == "music"
    assert line["language"] == "en"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "hi"}\n{"text": "x", "intent": "a"}\n', b"missing 'intent'"),
        (b'{"text": "hi", "intent": "a"}\nnot json\n', b"not a JSON line"),
        (
            b'{"text": "hi", "intent": "a"}\n{"text": "ho", "intent": "a"}\n',
            b"at least two intents",
        ),
    ],
)
def test_train_reports_bad_files(tmp_path: Path, content: bytes, message: bytes) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    done = _run("train", "--intents", str(bad), "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "m").exists()


def test_train_intents_needs_out(tmp_path: Path) -> None:
    assert main(["train", "--intents", str(_write(tmp_path / "t.jsonl", TINY))]) == 2
