"""Item texts rendered from Markdown and sanitized (api.services.markup, decision 0032)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services import markup
from api.services.markup import html, inline_html, sanitize

SHA = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("前言<script>alert(1)</script>后语", ("<script", "alert")),
        ('<img src="media:' + SHA + '" onerror="alert(1)">', ("onerror", "alert")),
        ('<p onclick="steal()">点我</p>', ("onclick", "steal")),
        ('<a href="javascript:alert(1)">链接</a>', ("javascript:", "<a")),
        ("[链接](javascript:alert(1))", ("href",)),
        ("![外部](https://evil.example/x.png)", ("evil.example", "src=")),
        ('<img src="//evil.example/x.png">', ("evil.example", "src=")),
        ('<img src="data:image/png;base64,AAAA">', ("data:", "src=")),
        ('<img src="x.png">', ("x.png", "src=")),
        ("<iframe src='https://evil.example'></iframe>", ("iframe", "evil")),
        ("<style>body{display:none}</style>正文", ("<style", "display")),
        ('<p style="background:url(javascript:x)">x</p>', ("style", "javascript")),
        ("<svg><script>alert(1)</script></svg>", ("svg", "alert")),
        ('<form action="/auth/password"><input name=p></form>', ("<form", "<input")),
    ],
)
def test_what_could_run_or_leak_is_stripped(text: str, gone: tuple[str, ...]) -> None:
    out = html(text)
    for fragment in gone:
        assert fragment not in out, out


def test_the_bank_s_own_image_is_kept_at_its_media_url() -> None:
    assert html(f"![电路图](media:{SHA})") == f'<p><img src="/media/{SHA}" alt="电路图"></p>\n'
    assert sanitize(f'<img src="media:{SHA}" alt="图" width="120">') == (
        f'<img src="/media/{SHA}" alt="图" width="120">'
    )


def test_bold_lists_tables_sub_and_superscripts_are_kept() -> None:
    out = html(
        "**加粗** 和 *强调*\n\n- 一\n- 二\n\n1. 甲\n2. 乙\n\n"
        "| 量 | 值 |\n|---|--:|\n| H<sub>2</sub>O | 10<sup>3</sup> |\n\n`code`"
    )
    for kept in (
        "<strong>加粗</strong>", "<em>强调</em>", "<ul>", "<li>一</li>", "<ol>", "<table>",
        "<th>量</th>", '<td style="text-align:right">', "H<sub>2</sub>O", "10<sup>3</sup>",
        "<code>code</code>",
    ):  # fmt: skip
        assert kept in out, (kept, out)


def test_html_from_moodle_and_qti_is_kept_in_its_safe_part() -> None:
    out = html('<p>选出 <b>正确</b> 的<br/>一项</p><div class="x"><span>注</span></div>')
    assert "<b>正确</b>" in out and "<br>" in out and "<span>注</span>" in out
    assert "<div" not in out and "class=" not in out


def test_plain_text_stays_text() -> None:
    assert html("a < b & c > d") == "<p>a &lt; b &amp; c &gt; d</p>\n"
    assert html("第一行\n第二行") == "<p>第一行<br>\n第二行</p>\n"
    assert html("") == "" and inline_html("") == ""


def test_an_option_is_inline_without_a_paragraph() -> None:
    assert inline_html("**甲** 选项") == "<strong>甲</strong> 选项"
    assert inline_html("<script>x</script>乙") == "乙"


#: Plain CJK and ASCII text with quotes and punctuation, odd spaces, and a little syntax.
_TEXT = st.lists(
    st.sampled_from(
        [
            *"专业技术人员继续教育学时？，。：；“”（）《》、 abcXYZ019.:;()'\"%@/?$^{}\t\n",
            *("\u3000", "\u00a0", "\u200b", "*", "<", "&", "#", "-", "1. ", "> ", "    "),
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_the_fast_path_for_plain_text_renders_as_the_full_path_does(text: str) -> None:
    """A text with no Markdown or HTML syntax skips markdown-it and nh3: same output."""
    slow_block = markup.sanitize(markup._MARKDOWN.render(text)) if text else ""
    slow_inline = markup.sanitize(markup._MARKDOWN.renderInline(text)) if text else ""
    assert markup.html.__wrapped__(text) == slow_block
    assert markup.inline_html.__wrapped__(text) == slow_inline


def test_an_excerpt_is_plain_words_cut_with_an_ellipsis() -> None:
    image = "media:" + "a" * 64
    text = f"**粗体** 看图：![电路]({image})\n\n与 <b>x</b> &amp; y <script>alert(1)</script>"
    assert markup.excerpt(text, 40) == "粗体 看图：[图] 与 x & y"
    assert markup.excerpt("普通的题干文字", 5) == "普通的题…"
    assert markup.excerpt("一行\n两行", 10) == "一行 两行"
