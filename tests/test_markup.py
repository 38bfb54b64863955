"""Reply markup renders safely: user content can never inject formatting or HTML."""

from __future__ import annotations

import pytest

from handlers.markup import escape, to_html, to_plain


@pytest.mark.parametrize(
    ("markup", "html"),
    [
        ("*bold* and _it_ and `code`", "<b>bold</b> and <i>it</i> and <code>code</code>"),
        ("a * lone star", "a * lone star"),
        ("<b>&amp;", "&lt;b&gt;&amp;amp;"),
        ("*unclosed", "*unclosed"),
        ("*a _b* c_", "<b>a <i>b* c</i></b>"),
    ],
)
def test_to_html(markup: str, html: str) -> None:
    assert to_html(markup) == html


@pytest.mark.parametrize(
    "user_text",
    ["<b>hi</b> & *_[ `x` \\", "שלום عليكم 🙂", "**__``", "\\*not bold\\*", ""],
)
def test_escaped_user_text_round_trips_literally(user_text: str) -> None:
    wrapped = f"*Title:* {escape(user_text)}"
    assert to_plain(wrapped) == f"Title: {user_text}"
    html = to_html(wrapped)
    assert html.startswith("<b>Title:</b> ")
    assert "<b>hi" not in html
    assert html.count("<b>") == 1
