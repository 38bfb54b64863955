"""Training and evaluation data: JSONL files, their validation, and seeded noise for training.

Every file holds one JSON object per line. Intents: ``{"text", "intent"}`` plus optional
``"lang"`` and ``"topics"``; topics: ``{"text", "topics": [primary, ...], "lang"}``; languages:
``{"text", "lang"}``. The project's own files live in ``nlp/data/``; the ``*.heldout.jsonl``
files are only ever read by evaluation.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nlp.labels import TOPICS


class DataError(ValueError):
    """A data file is missing or does not hold what it should."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text. Which labels are set depends on the file it came from."""

    text: str
    intent: str | None = None
    lang: str | None = None
    topics: tuple[str, ...] = field(default=())


def project_data_dir() -> Path:
    """``nlp/data`` inside the installed package."""
    return Path(str(resources.files("nlp") / "data"))


def project_file(name: str) -> Path:
    return project_data_dir() / name


def read_jsonl(path: Path, *, require: str | None = None) -> list[Example]:
    """The examples in ``path``; ``require`` names a label every line must carry."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        return list(_parse_lines(path, handle, require))


def _parse_lines(path: Path, lines: Iterable[bytes], require: str | None) -> Iterator[Example]:
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{where}: not a JSON line ({exc})") from exc
        yield parse_record(record, where, require)


def parse_record(record: Any, where: str, require: str | None = None) -> Example:
    """Validate one decoded JSON line."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' must be a string")
    intent = _optional_str(record, "intent", where)
    lang = _optional_str(record, "lang", where)
    topics = record.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise DataError(f"{where}: 'topics' must be a list of strings")
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise DataError(f"{where}: unknown topics {unknown}")
    example = Example(text=text, intent=intent, lang=lang, topics=tuple(topics))
    if require is not None and not getattr(example, require):
        raise DataError(f"{where}: missing '{require}'")
    return example


def _optional_str(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: '{key}' must be a non-empty string")
    return value


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` one per line; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


# --- noise: how people really type ---------------------------------------------------------

_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip
_PUNCTUATION = set(".,;:!?¡¿'\"()")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one slip of the finger: a swap, a drop, a double or a neighbour key."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word


def noisy(text: str, rng: random.Random) -> str:
    """A variant of ``text`` as it might be typed in a hurry (seeded by ``rng``)."""
    words = text.split()
    if rng.random() < 0.6 and words:
        for _ in range(1 + (len(words) > 6)):
            i = rng.randrange(len(words))
            words[i] = typo(words[i], rng)
    out = " ".join(words)
    if rng.random() < 0.5:
        out = "".join(c for c in out if c not in _PUNCTUATION)
    if rng.random() < 0.3:
        out = strip_accents(out)
    roll = rng.random()
    if roll < 0.5:
        out = out.lower()
    elif roll < 0.6:
        out = out.upper()
    elif roll < 0.75:
        out = out[:1].upper() + out[1:]
    return out


def augment(examples: list[Example], copies: int, rng: random.Random) -> list[Example]:
    """``examples`` followed by ``copies`` noisy variants of each (distinct from the original)."""
    out = list(examples)
    for example in examples:
        seen = {example.text}
        for _ in range(copies):
            text = noisy(example.text, rng)
            if text.strip() and text not in seen:
                seen.add(text)
                out.append(Example(text, example.intent, example.lang, example.topics))
    return out
