"""Long Telegram HTML is cut into messages that fit, on natural boundaries, tags kept whole."""

from __future__ import annotations

import html
import re

import pytest

from bot.adapters.telegram import split_html
from handlers.markup import escape, to_html
from tests.fakes.bot_api import parse_html


def plain(part: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", part))


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_short_text_is_one_part() -> None:
    assert split_html("<b>Hello</b> world") == ["<b>Hello</b> world"]


def test_paragraph_breaks_are_preferred() -> None:
    first = "word " * 14 + "end."
    second = "next " * 10
    parts = split_html(f"{first}\n\n{second}", limit=100)
    assert parts[0] == first


def test_line_then_word_boundaries() -> None:
    parts = split_html("alpha beta\ngamma delta epsilon", limit=16)
    assert parts == ["alpha beta", "gamma delta", "epsilon"]


def test_a_word_longer_than_a_message_is_cut_hard() -> None:
    parts = split_html("x" * 25, limit=10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


def test_open_tags_are_closed_and_reopened() -> None:
    parts = split_html("<b>one two three <i>four five six</i> seven</b>", limit=24)
    assert len(parts) > 1
    for part in parts:
        assert units(part) <= 24
        parse_html(part)  # Telegram would accept each part
    words = ["one", "two", "three", "four", "five", "six", "seven"]
    assert " ".join(plain(p) for p in parts).split() == words


def test_entities_are_never_cut() -> None:
    parts = split_html("&lt;" * 10, limit=9)
    assert all(part in ("&lt;&lt;", "&lt;") for part in parts)
    assert "".join(plain(p) for p in parts) == "<" * 10


def test_emoji_count_two_units() -> None:
    parts = split_html("🙂" * 5, limit=4)
    assert parts == ["🙂🙂", "🙂🙂", "🙂"]


@pytest.mark.parametrize("size", [4097, 10_000, 30_000])
def test_rendered_replies_of_any_size_fit(size: int) -> None:
    words = [f"w{n}" for n in range(size)]
    lines = [" ".join(words[i : i + 9]) for i in range(0, len(words), 9)]
    paragraphs = ["\n".join(lines[i : i + 5]) for i in range(0, len(lines), 5)]
    markup = "*Ideas*\n\n_" + "\n\n".join(paragraphs)[: size - 20] + "_ " + escape("<&>")
    parts = split_html(to_html(markup))
    for part in parts:
        assert units(part) <= 4096
        parse_html(part)
    expected = plain(to_html(markup)).split()
    assert " ".join(plain(p) for p in parts).split() == expected
