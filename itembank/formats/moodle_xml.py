"""Moodle XML question files (``<quiz><question type="…">``), read and written.

This module owns the Moodle XML format and the small XML tree reader that both XML
formats share (``read_xml``: expat with element lines, DTDs refused). It leaves judging
the items to ``itembank.lint``.

Read: ``multichoice`` (``single`` true → single choice, false → multiple choice),
``multichoiceset`` (the all-or-nothing plugin → multiple choice, all or nothing),
``truefalse``, ``shortanswer`` (→ fill in the blank, ``usecase`` → case sensitive),
``numerical`` (answers with tolerances) and ``matching`` (sub-questions with empty text
are distractors). A ``category`` pseudo-question sets the topic of the questions that
follow, without its ``$course$/``, ``$system$/``, ``$cat1$/``, ``$module$/`` and
``top/`` prefixes. The key is the ``idnumber`` when present, else the ``name``.
``defaultgrade`` → points, ``generalfeedback`` → explanation, ``tags`` → tags,
``hidden`` 1 → retired. Texts are kept as written whatever their ``format``
(HTML is valid Markdown). Every other question type is reported as unsupported with
the line of its ``<question>``.

Multiple-choice scoring rule: a ``multichoice`` with ``single`` false is "partial" when
its fractions are split (any option worth strictly between 0 and 100 %, or any
negative), and "all_or_nothing" when every correct option is worth 100 % and the rest
0 — Moodle would give full credit for any one of them, which no author means, so the
nearest reading is that each is required.

Moodle XML cannot carry: per-option ``fixed`` (``shuffleanswers`` is per question, so
``shuffleanswers`` false reads as every option fixed and any fixed option writes
``shuffleanswers`` false); difficulty; enemy group; draft status. Core Moodle scores
multiple choice by adding the chosen options' fractions, so all-or-nothing multiple
choice is written with ``itembank.scoring.additive_weights`` (each correct option an
equal share, each wrong one the same share taken away, so ticking extra options never pays) and
reads back as "partial". Answer numbering, penalties, hints,
combined feedback and units are not read (units are reported as left out). Images
embedded as base64 ``<file>`` in the question text, answers and general feedback are
read: ``@@PLUGINFILE@@/name`` becomes ``media:<sha256>`` (``itembank.media``).
"""

from __future__ import annotations

import base64
import binascii
import math
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from xml.parsers import expat

import msgspec

from itembank.formats import ParsedItem, ParseResult
from itembank.media import Media, MediaBag, embed, file_name, rewrite_sources
from itembank.model import (
    AcceptedText,
    Body,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    Status,
    TrueFalse,
    derive_key,
    option_id,
)
from itembank.problems import Location, Problem, at, syntax, unsupported, unsupported_part
from itembank.scoring import additive_weights

# ---------------------------------------------------------------------------------------
# The shared XML tree reader
# ---------------------------------------------------------------------------------------

_XML_NS = "http://www.w3.org/XML/1998/namespace"


class XmlNode(msgspec.Struct, gc=False):
    """An element with its place: local name, attributes, text, tail and children.

    ``ns`` is the namespace when the tree was read with namespaces, else "". Children
    are linked (``first``, ``next``) rather than listed: a tree of two million elements
    then holds no object the garbage collector has to visit.
    """

    tag: str
    attrs: dict[str, str]
    line: int
    col: int
    ns: str = ""
    text: str = ""
    tail: str = ""
    first: XmlNode | None = None
    last: XmlNode | None = None
    next: XmlNode | None = None

    @property
    def children(self) -> Iterator[XmlNode]:
        """The child elements, in order."""
        node = self.first
        while node is not None:
            yield node
            node = node.next

    def child(self, tag: str) -> XmlNode | None:
        """The first child called ``tag``, if any."""
        node = self.first
        while node is not None and node.tag != tag:
            node = node.next
        return node

    def all(self, tag: str) -> Iterator[XmlNode]:
        """Every child called ``tag``, in order."""
        return (node for node in self.children if node.tag == tag)


class _Refused(Exception):
    def __init__(self, index: int) -> None:
        super().__init__("DOCTYPE")
        self.index = index


def _place_of(data: bytes, marker: bytes, before: int) -> tuple[int, int]:
    """The line and column of the last ``marker`` in ``data`` before byte ``before``."""
    start = max(data.rfind(marker, 0, before + 1), 0)
    line_start = data.rfind(b"\n", 0, start) + 1
    return data.count(b"\n", 0, start) + 1, len(data[line_start:start].decode(errors="replace")) + 1


def _attr_name(key: str) -> str:
    ns, _, local = key.rpartition(" ")
    return f"xml:{local}" if ns == _XML_NS else local


def _builder(parser: expat.XMLParserType, root: list[XmlNode], namespaces: bool) -> None:
    """Hooks ``parser`` to build the tree into ``root``, with each element's line.

    Closures over locals rather than methods: these run for every element, and 50,000
    Moodle questions are about two million elements.
    """
    stack: list[XmlNode] = []
    push, pop = stack.append, stack.pop

    def start(name: str, attrs: dict[str, str]) -> None:
        ns = ""
        if namespaces:
            ns, _, name = name.rpartition(" ")
            if attrs:
                attrs = {_attr_name(key): value for key, value in attrs.items()}
        node = XmlNode(name, attrs, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1, ns)
        if stack:
            parent = stack[-1]
            if parent.last is None:
                parent.first = node
            else:
                parent.last.next = node
            parent.last = node
        else:
            root.append(node)
        push(node)

    def end(name: str) -> None:
        pop()

    def data(text: str) -> None:
        if not stack:
            return
        parent = stack[-1]
        if parent.last is None:
            parent.text += text
        else:
            parent.last.tail += text

    def refuse(*args: object) -> None:
        raise _Refused(parser.CurrentByteIndex)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse


#: expat's reasons, in Chinese, for the errors authors meet most.
_REASONS_ZH = {
    "mismatched tag": "标签不匹配",
    "not well-formed (invalid token)": "格式不正确（无效的记号）",
    "no element found": "没有找到元素（文件为空或不完整）",
    "unclosed token": "记号未闭合",
    "junk after document element": "根元素之后还有多余内容",
    "undefined entity": "未定义的实体",
    "duplicate attribute": "属性重复",
    "unbound prefix": "命名空间前缀未声明",
    "unclosed CDATA section": "CDATA 段未闭合",
    "syntax error": "语法错误",
    "XML or text declaration not at start of entity": "XML 声明不在文件开头",
}


def read_xml(data: bytes, *, namespaces: bool = False) -> XmlNode | Problem:
    """The root element of ``data``, or the syntax problem that stops it being read.

    With ``namespaces``, names are local names and ``XmlNode.ns`` keeps the namespace.
    A DOCTYPE or entity declaration is refused, as defusedxml would, so no entity is
    ever expanded.
    """
    parser = expat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root: list[XmlNode] = []
    _builder(parser, root, namespaces)
    try:
        parser.Parse(data, True)
    except _Refused as refused:
        line, col = _place_of(data, b"<!DOCTYPE", refused.index)
        return syntax(
            "a DOCTYPE is not allowed: DTDs and entity declarations are refused",
            "不允许 DOCTYPE：不接受 DTD 和实体声明",
            line=line,
            col=col,
        )
    except expat.ExpatError as error:
        reason = expat.ErrorString(error.code)
        return syntax(
            f"the XML is not well-formed: {reason}",
            f"XML 格式错误：{_REASONS_ZH.get(reason, reason)}",
            line=error.lineno,
            col=error.offset + 1,
        )
    except LookupError as error:  # an XML declaration naming an encoding Python lacks
        return syntax(
            f"the XML declares an unknown encoding: {error}; save the file as UTF-8",
            f"XML 声明了未知的编码：{error}；请将文件另存为 UTF-8",
            line=1,
        )
    return root[0]  # expat reports "no element found" when there is none


def text_of(node: XmlNode | None) -> str:
    """The text of ``node``'s ``<text>`` child, stripped ("" when either is missing)."""
    if node is None:
        return ""
    text = node.child("text")
    return "" if text is None else text.text.strip()


def placed(problems: Sequence[Problem], source: str) -> tuple[Problem, ...]:
    """The problems, placed in ``source`` when it is named."""
    return tuple(at(p, file=source) for p in problems) if source else tuple(problems)


# ---------------------------------------------------------------------------------------
# Reading Moodle XML
# ---------------------------------------------------------------------------------------

_CONTEXT_PREFIXES = ("$course$/", "$system$/", "$cat1$/", "$module$/")
_PLUGINFILE = "@@PLUGINFILE@@/"
_TRUE_WORDS = frozenset({"true", "1", "yes"})


class _Reader:
    """Collects the problems of one file while questions are read."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.media = MediaBag()

    def text(self, node: XmlNode | None) -> str:
        """``text_of(node)`` with its ``@@PLUGINFILE@@/name`` images read from the node's
        base64 ``<file>`` children and referred to as ``media:<sha256>``."""
        text = text_of(node)
        if node is None or node.child("file") is None:
            return text
        files: dict[str, str | None] = {}
        for file in node.all("file"):
            name = file.attrs.get("name", "")
            try:
                data = base64.b64decode(file.text, validate=False)
            except binascii.Error:
                data = b""
            path = file.attrs.get("path", "/").strip("/")
            full = f"{path}/{name}" if path else name
            files[full] = self.media.add(name, data, line=file.line, col=file.col)

        def resolve(src: str) -> str | None:
            if not src.startswith(_PLUGINFILE):
                return None
            return files.get(urllib.parse.unquote(src[len(_PLUGINFILE) :]))

        return rewrite_sources(text, resolve)

    def number(self, raw: str, what: str, node: XmlNode, default: float) -> float:
        """``raw`` as a float; a syntax problem at ``node`` (and ``default``) if it is not."""
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return value
        self.problems.append(
            syntax(
                f"{what} {raw.strip()!r} is not a number",
                f"{what} {raw.strip()!r} 不是数字",
                line=node.line,
                col=node.col,
            )
        )
        return default

    def fraction(self, answer: XmlNode) -> float:
        """The answer's ``fraction`` attribute (a percentage) as a share of the points."""
        raw = answer.attrs.get("fraction", "0")
        return round(self.number(raw, "fraction", answer, 0.0) / 100, 9)

    def left_out(self, construct: str, node: XmlNode) -> None:
        self.problems.append(unsupported_part(construct, line=node.line, col=node.col))


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The questions of a Moodle XML file and the problems met reading it."""
    root = read_xml(data)
    if isinstance(root, Problem):
        return ParseResult(problems=placed([root], source))
    if root.tag != "quiz":
        problem = syntax(
            f"the root element is <{root.tag}>; a Moodle XML file starts with <quiz>",
            f"根元素是 <{root.tag}>；Moodle XML 文件应以 <quiz> 开始",
            line=root.line,
            col=root.col,
        )
        return ParseResult(problems=placed([problem], source))
    reader = _Reader()
    items: list[ParsedItem] = []
    topic = ""
    for question in root.all("question"):
        kind = question.attrs.get("type", "")
        if kind == "category":
            topic = _topic(text_of(question.child("category")))
            continue
        build = _BODY_READERS.get(kind)
        if build is None:
            name = f"the Moodle question type {kind!r}" if kind else "a <question> with no type"
            reader.problems.append(unsupported(name, line=question.line, col=question.col))
            continue
        item = _item(question, build(question, reader), topic, reader)
        items.append(ParsedItem(item=item, location=Location(line=question.line, col=question.col)))
    problems = placed([*reader.problems, *reader.media.problems], source)
    return ParseResult(
        items=tuple(items), problems=problems, media=tuple(reader.media.media.values())
    )


def _topic(path: str) -> str:
    for prefix in _CONTEXT_PREFIXES:
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    if path == "top":
        return ""
    return path.removeprefix("top/")


def _item(question: XmlNode, body: Body, topic: str, reader: _Reader) -> Item:
    stem = reader.text(question.child("questiontext"))
    key = _child_text(question, "idnumber") or text_of(question.child("name"))
    grade = question.child("defaultgrade")
    points = 1.0 if grade is None else reader.number(grade.text, "defaultgrade", grade, 1.0)
    tags_node = question.child("tags")
    tags = () if tags_node is None else tuple(text_of(t) for t in tags_node.all("tag"))
    hidden = _child_text(question, "hidden") in _TRUE_WORDS
    return Item(
        key=key or derive_key(stem),
        stem=stem,
        body=body,
        explanation=reader.text(question.child("generalfeedback")),
        topic=topic,
        tags=tuple(t for t in tags if t),
        points=points,
        status=Status.RETIRED if hidden else Status.ACTIVE,
    )


def _child_text(node: XmlNode, tag: str) -> str:
    child = node.child(tag)
    return "" if child is None else child.text.strip()


def _flag(node: XmlNode, tag: str, default: str) -> bool:
    """A Moodle boolean child, read as Moodle does ("false", "0" and "" are false)."""
    child = node.child(tag)
    raw = default if child is None else child.text.strip()
    return raw not in ("false", "0", "")


def _options(question: XmlNode, reader: _Reader) -> tuple[Option, ...]:
    fixed = not _flag(question, "shuffleanswers", "false")
    return tuple(
        Option(
            id=option_id(index),
            text=reader.text(answer),
            fraction=reader.fraction(answer),
            feedback=text_of(answer.child("feedback")),
            fixed=fixed,
        )
        for index, answer in enumerate(question.all("answer"))
    )


def _multichoice(question: XmlNode, reader: _Reader) -> Body:
    options = _options(question, reader)
    if _flag(question, "single", "true"):
        return SingleChoice(options=options)
    split = any(o.fraction < 0 or 0 < o.fraction < 1 for o in options)
    return MultipleChoice(options=options, scoring="partial" if split else "all_or_nothing")


def _multichoiceset(question: XmlNode, reader: _Reader) -> Body:
    options = tuple(
        Option(
            id=o.id,
            text=o.text,
            fraction=1.0 if o.fraction > 0 else 0.0,
            feedback=o.feedback,
            fixed=o.fixed,
        )
        for o in _options(question, reader)
    )
    return MultipleChoice(options=options, scoring="all_or_nothing")


def _truefalse(question: XmlNode, reader: _Reader) -> Body:
    answer: bool | None = None
    feedback = {"true": "", "false": ""}
    for node in question.all("answer"):
        word = text_of(node).lower()
        if word not in feedback:
            reader.left_out(f"a true/false answer {word!r} (expected 'true' or 'false')", node)
            continue
        feedback[word] = text_of(node.child("feedback"))
        if reader.fraction(node) > 0:
            answer = word == "true"
    return TrueFalse(
        answer=answer, feedback_true=feedback["true"], feedback_false=feedback["false"]
    )


def _shortanswer(question: XmlNode, reader: _Reader) -> Body:
    answers = tuple(
        AcceptedText(
            text=text_of(node),
            fraction=reader.fraction(node),
            feedback=text_of(node.child("feedback")),
        )
        for node in question.all("answer")
    )
    return FillBlank(answers=answers, case_sensitive=_flag(question, "usecase", "0"))


def _numerical(question: XmlNode, reader: _Reader) -> Body:
    answers: list[NumericAnswer] = []
    for node in question.all("answer"):
        raw = text_of(node) or node.text.strip()
        if raw == "*":
            reader.left_out("the '*' (any other answer) numerical answer", node)
            continue
        tolerance = node.child("tolerance")
        answers.append(
            NumericAnswer(
                value=reader.number(raw, "numerical answer", node, 0.0),
                tolerance=0.0
                if tolerance is None
                else abs(reader.number(tolerance.text, "tolerance", tolerance, 0.0)),
                fraction=reader.fraction(node),
                feedback=text_of(node.child("feedback")),
            )
        )
    units = question.child("units")
    if units is not None and units.child("unit") is not None:
        reader.left_out("numerical units", units)
    return Numerical(answers=tuple(answers))


def _matching(question: XmlNode, reader: _Reader) -> Body:
    pairs: list[Pair] = []
    distractors: list[str] = []
    for node in question.all("subquestion"):
        prompt, answer = text_of(node), text_of(node.child("answer"))
        if prompt:
            pairs.append(Pair(prompt=prompt, answer=answer))
        elif answer:
            distractors.append(answer)
    return Matching(pairs=tuple(pairs), distractors=tuple(distractors))


_BODY_READERS: dict[str, Callable[[XmlNode, _Reader], Body]] = {
    "multichoice": _multichoice,
    "multichoiceset": _multichoiceset,
    "truefalse": _truefalse,
    "shortanswer": _shortanswer,
    "numerical": _numerical,
    "matching": _matching,
}


# ---------------------------------------------------------------------------------------
# Writing Moodle XML
# ---------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` escaped for XML character data."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;")


def escape_attr(text: str) -> str:
    """``text`` escaped for a double-quoted XML attribute."""
    return escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def number(value: float) -> str:
    """A float as the shortest decimal that reads back the same ("1", "0.5", "-33.3")."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _percent(fraction: float) -> str:
    return number(round(fraction * 100, 7))


def _text(
    tag: str, text: str, fmt: str | None = "markdown", media: Mapping[str, Media] | None = None
) -> str:
    attr = f' format="{fmt}"' if fmt else ""
    text, files = _files(text, media)
    return f"<{tag}{attr}><text>{escape(text)}</text>{files}</{tag}>"


def _files(text: str, media: Mapping[str, Media] | None) -> tuple[str, str]:
    """``text`` with its images referred to as ``@@PLUGINFILE@@/name``, and the base64
    ``<file>`` elements that carry them (Moodle's own way, read back by ``_Reader.text``)."""
    if not media:
        return text, ""
    text, used = embed(text, media, lambda m: _PLUGINFILE + file_name(m))
    files = "".join(
        f'<file name="{file_name(m)}" path="/" encoding="base64">'
        f"{base64.b64encode(m.data).decode()}</file>"
        for m in used
    )
    return text, files


def dump(items: Sequence[Item], media: Mapping[str, Media] | None = None) -> bytes:
    """The items as a Moodle XML ``<quiz>``, a category before each change of topic;
    the images of ``media`` (by hash) the items refer to go in as base64 ``<file>``
    elements beside the texts that show them."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    topic: str | None = None
    for item in items:
        if item.topic != topic:
            topic = item.topic
            lines.append(_category(topic))
        lines.append(_question(item, media))
    lines.append("</quiz>\n")
    return "\n".join(lines).encode()


def _category(topic: str) -> str:
    path = "$course$/top" + (f"/{topic}" if topic else "")
    return f'  <question type="category">\n    {_text("category", path, None)}\n  </question>'


def _question(item: Item, media: Mapping[str, Media] | None) -> str:
    kind, parts = _body_parts(item.body, media)
    head = [
        _text("name", item.key, None),
        _text("questiontext", item.stem, media=media),
        _text("generalfeedback", item.explanation, media=media),
        f"<defaultgrade>{number(item.points)}</defaultgrade>",
        f"<hidden>{1 if item.status == Status.RETIRED else 0}</hidden>",
    ]
    if len(item.key) <= 100:  # Moodle's idnumber column holds 100 characters
        head.append(f"<idnumber>{escape(item.key)}</idnumber>")
    if item.tags:
        tags = "".join(f"<tag>{_text_only(t)}</tag>" for t in item.tags)
        parts.append(f"<tags>{tags}</tags>")
    body = "\n    ".join(head + parts)
    return f'  <question type="{kind}">\n    {body}\n  </question>'


def _text_only(text: str) -> str:
    return f"<text>{escape(text)}</text>"


def _answer(
    fraction: float,
    text: str,
    feedback: str,
    fmt: str | None,
    extra: str = "",
    *,
    media: Mapping[str, Media] | None = None,
) -> str:
    attr = f' format="{fmt}"' if fmt else ""
    text, files = _files(text, media)
    return (
        f'<answer fraction="{_percent(fraction)}"{attr}>{_text_only(text)}{files}{extra}'
        f"{_text('feedback', feedback)}</answer>"
    )


def _body_parts(body: Body, media: Mapping[str, Media] | None = None) -> tuple[str, list[str]]:
    match body:
        case SingleChoice(options=options):
            return "multichoice", _choice_parts(options, single=True, media=media)
        case MultipleChoice(options=options, scoring=scoring):
            if scoring == "all_or_nothing":
                options = additive_weights(options)
            return "multichoice", _choice_parts(options, single=False, media=media)
        case TrueFalse():
            return "truefalse", _truefalse_parts(body)
        case FillBlank(answers=answers, case_sensitive=case_sensitive):
            parts = [f"<usecase>{int(case_sensitive)}</usecase>"]
            parts += [_answer(a.fraction, a.text, a.feedback, None) for a in answers]
            return "shortanswer", parts
        case Numerical(answers=numeric):
            return "numerical", [
                _answer(
                    a.fraction,
                    number(a.value),
                    a.feedback,
                    None,
                    f"<tolerance>{number(a.tolerance)}</tolerance>",
                )
                for a in numeric
            ]
        case Matching():
            return "matching", _matching_parts(body)


def _choice_parts(
    options: Sequence[Option], *, single: bool, media: Mapping[str, Media] | None = None
) -> list[str]:
    shuffle = not any(o.fixed for o in options)
    parts = [
        f"<single>{'true' if single else 'false'}</single>",
        f"<shuffleanswers>{'true' if shuffle else 'false'}</shuffleanswers>",
        "<answernumbering>abc</answernumbering>",
    ]
    parts += [_answer(o.fraction, o.text, o.feedback, "markdown", media=media) for o in options]
    return parts


def _truefalse_parts(body: TrueFalse) -> list[str]:
    true_fraction = 1.0 if body.answer is True else 0.0
    false_fraction = 1.0 if body.answer is False else 0.0
    return [
        _answer(true_fraction, "true", body.feedback_true, "moodle_auto_format"),
        _answer(false_fraction, "false", body.feedback_false, "moodle_auto_format"),
    ]


def _matching_parts(body: Matching) -> list[str]:
    parts = ["<shuffleanswers>true</shuffleanswers>"]
    for prompt, answer in [(p.prompt, p.answer) for p in body.pairs] + [
        ("", d) for d in body.distractors
    ]:
        parts.append(
            f'<subquestion format="markdown">{_text_only(prompt)}'
            f"<answer>{_text_only(answer)}</answer></subquestion>"
        )
    return parts
