"""IMS QTI items (2.1, 2.2 and 3.0), one per file or many in a zip content package.

This module owns reading and writing QTI ``assessmentItem`` (2.x, camelCase names) and
``qti-assessment-item`` (3.0, kebab-case names with a ``qti-`` prefix) documents and
the ``imsmanifest.xml`` packages that carry several of them. QTI 3 names are turned
into their 2.x spelling as the file is read, so one reader serves every version.

Read: ``choiceInteraction`` (``maxChoices`` 1 → single choice; 0 or more → multiple
choice; exactly two choices called ``true`` and ``false`` → true/false),
``textEntryInteraction`` (a float or integer response → numerical, else fill in the
blank: the correct response and the mapping entries are the accepted answers) and
``matchInteraction`` (first set prompts, second set answers; answers no pair uses are
distractors). Response processing must be the ``match_correct`` or ``map_response``
template, whatever the spelling of its address; ``map_response`` gives partial credit:
an option's fraction is its mapped value over the item's maximum score (the mapping's
``upperBound``, else the largest value for one choice or the sum of the positive
values for several). The stem is the item body as XHTML text without the interaction
(an element left empty by its removal goes too; a text entry amid text leaves
``____``), then the interaction's prompt; a lone ``<div>`` wrapper is unwrapped. The
key is the item's ``identifier`` (or its ``label`` when that is the key this module
wrote, see ``original_key``); a ``MAXSCORE`` outcome's default gives the points.
Other interactions, custom response processing, template processing and items with
several interactions are reported as unsupported with their line; feedback elements
are reported as left out. In a package, images the stem and choices refer to by a
relative path are read from the zip (``media:<sha256>``, ``itembank.media``).

Written: ``dump`` gives a QTI 2.2 zip content package (``imsmanifest.xml`` +
``items/*.xml``), even for one item, since only the manifest carries an item's metadata:
topic, tags, difficulty band and status go there as IEEE LOM (a classification taxon,
keywords, educational difficulty, life-cycle status) and the package reader reads them
back. ``dump_item`` and ``dump_package`` take the version ("2.2" or "3.0"). Keys are
written as QTI identifiers (``qti_identifier``: stable, distinct, ASCII), with the key
as written in ``label``; item file names keep their Chinese (UTF-8 zip names).
docs/decisions/0034-export-fidelity.md says why.

QTI (with the response templates) cannot carry: numerical tolerances (templates compare
exactly), option and answer feedback, true/false feedback, the explanation, a facility
or IRT parameters, and the enemy group; ``itembank.exporting`` reports each of them per
item at export.
Stems and option texts that are not well-formed XHTML are written as escaped text
(``a < b`` reads back as ``a &lt; b``, the same HTML). Option ids are written as QTI
identifiers too (an id that is not one comes back changed, and is reported).
"""

from __future__ import annotations

import html.entities
import io
import itertools
import posixpath
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal, NamedTuple

import msgspec

from itembank.formats import ParsedItem, ParseResult
from itembank.formats.moodle_xml import (
    XmlNode,
    escape,
    escape_attr,
    number,
    placed,
    read_xml,
)
from itembank.media import (
    MAX_IMAGE_BYTES,
    SCHEME,
    Media,
    MediaBag,
    embed,
    file_name,
    rewrite_sources,
)
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
)
from itembank.problems import Location, Problem, at, syntax, unsupported, unsupported_part

Version = Literal["2.2", "3.0"]

NS_21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
NS_22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"
NS_30 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
_NAMESPACES = frozenset({NS_21, NS_22, NS_30})
_TEMPLATES = frozenset({"match_correct", "map_response"})
_LEFT_OUT = frozenset(
    {"feedbackBlock", "feedbackInline", "templateBlock", "templateInline", "rubricBlock"}
)
_BLANK = "____"
_MAX_ENTRY = 64 << 20  # bytes: a larger item file in a package is refused (zip bombs)
_ZIP_MAGIC = b"PK\x03\x04"


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of a QTI item file or zip content package, and the problems met.

    Problems in a package carry the inner path of their file.
    """
    if data.startswith(_ZIP_MAGIC):
        return _parse_package(data)
    items, problems = _parse_document(data)
    return ParseResult(items=tuple(items), problems=placed(problems, source))


def _parse_document(data: bytes) -> tuple[list[ParsedItem], list[Problem]]:
    root = read_xml(data, namespaces=True)
    if isinstance(root, Problem):
        return [], [root]
    _normalize(root)
    if root.tag != "assessmentItem" or root.ns not in _NAMESPACES:
        return [], [_not_an_item(root)]
    reader = _Reader()
    item = reader.item(root)
    location = Location(line=root.line, col=root.col)
    parsed = [] if item is None else [ParsedItem(item=item, location=location)]
    return parsed, reader.problems


def _not_an_item(root: XmlNode) -> Problem:
    name = f"{{{root.ns}}}{root.tag}" if root.ns else root.tag
    return syntax(
        f"the root element is <{name}>; a QTI item is an assessmentItem (QTI 2.1/2.2) "
        "or qti-assessment-item (QTI 3.0) in the QTI namespace",
        f"根元素是 <{name}>；QTI 题目的根元素应为 QTI 命名空间中的 assessmentItem"
        "（QTI 2.1/2.2）或 qti-assessment-item（QTI 3.0）",
        line=root.line,
        col=root.col,
    )


def _camel(kebab: str) -> str:
    head, *rest = kebab.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _normalize(node: XmlNode) -> None:
    """QTI 3 names in their QTI 2 spelling: ``qti-simple-choice`` → ``simpleChoice``."""
    if node.tag.startswith("qti-"):
        node.tag = _camel(node.tag[4:])
        node.attrs = {
            key if key.startswith(("data-", "aria-", "xml:")) else _camel(key): value
            for key, value in node.attrs.items()
        }
    for child in node.children:
        _normalize(child)


class _Interaction(NamedTuple):
    node: XmlNode
    declaration: XmlNode | None
    template: str  # "match_correct" or "map_response"


class _Reader:
    """Reads the items of one document, collecting its problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def report(self, problem: Problem) -> None:
        self.problems.append(problem)

    def item(self, root: XmlNode) -> Item | None:
        interaction = self.interaction(root)
        if interaction is None:
            return None
        read = _BODY_READERS[interaction.node.tag]
        body = read(self, interaction)
        if body is None:
            return None
        item_body = root.child("itemBody")
        assert item_body is not None  # interaction() found the interaction in it
        for feedback in root.all("modalFeedback"):
            self.left_out("the QTI modalFeedback", feedback)
        return Item(
            key=original_key(root.attrs),
            stem=self.stem(item_body, interaction.node),
            body=body,
            points=self.points(root),
        )

    def interaction(self, root: XmlNode) -> _Interaction | None:
        template = root.child("templateProcessing")
        if template is not None:
            self.unsupported("template processing (cloned items)", template)
            return None
        item_body = root.child("itemBody")
        found = [] if item_body is None else list(_interactions(item_body))
        if len(found) != 1:
            what = (
                "an item with no interaction" if not found else "an item with several interactions"
            )
            self.unsupported(what, found[1] if len(found) > 1 else root)
            return None
        node = found[0]
        if node.tag not in _BODY_READERS:
            self.unsupported(f"the QTI {node.tag}", node)
            return None
        rules = self.template(root.child("responseProcessing"))
        if rules is None:
            return None
        declarations = {d.attrs.get("identifier"): d for d in root.all("responseDeclaration")}
        declaration = declarations.get(node.attrs.get("responseIdentifier"))
        if declaration is None:
            self.report(_no_declaration(node))
        return _Interaction(node, declaration, rules)

    def template(self, processing: XmlNode | None) -> str | None:
        """The response template's short name; None (and a problem) when it is custom."""
        if processing is None:
            return "match_correct"
        address = processing.attrs.get("template", "")
        name = address.rstrip("/").rpartition("/")[2].removesuffix(".xml")
        if name in _TEMPLATES:
            return name
        what = f"the response template {address!r}" if address else "custom response processing"
        self.unsupported(what, processing)
        return None

    def unsupported(self, construct: str, node: XmlNode) -> None:
        self.report(unsupported(construct, line=node.line, col=node.col))

    def left_out(self, construct: str, node: XmlNode) -> None:
        self.report(unsupported_part(construct, line=node.line, col=node.col))

    def number(self, raw: str, what: str, node: XmlNode) -> float | None:
        try:
            return float(raw)
        except ValueError:
            self.report(
                syntax(
                    f"{what} {raw.strip()!r} is not a number",
                    f"{what} {raw.strip()!r} 不是数字",
                    line=node.line,
                    col=node.col,
                )
            )
            return None

    def points(self, root: XmlNode) -> float:
        for outcome in root.all("outcomeDeclaration"):
            if outcome.attrs.get("identifier") == "MAXSCORE":
                values = _default_values(outcome)
                if values:
                    return self.number(values[0], "MAXSCORE", outcome) or 1.0
        return 1.0

    def stem(self, item_body: XmlNode, interaction: XmlNode) -> str:
        for node in _descendants(item_body):
            if node.tag in _LEFT_OUT:
                self.left_out(f"the QTI {node.tag}", node)
        text = _unwrap(_inner_html(item_body, interaction).strip())
        prompt = interaction.child("prompt")
        prompt_text = "" if prompt is None else _inner_html(prompt, None).strip()
        return "\n\n".join(part for part in (text, prompt_text) if part)

    def mapping(self, interaction: _Interaction) -> dict[str, float]:
        """The mapping's entries, key to mapped value (empty under ``match_correct``)."""
        mapping = (
            None if interaction.declaration is None else interaction.declaration.child("mapping")
        )
        if interaction.template != "map_response":
            return {}
        if mapping is None:
            node = interaction.declaration or interaction.node
            self.report(
                syntax(
                    "map_response needs a <mapping> in the response declaration",
                    "map_response 模板需要在 responseDeclaration 中提供 <mapping>",
                    line=node.line,
                    col=node.col,
                )
            )
            return {}
        entries: dict[str, float] = {}
        for entry in mapping.all("mapEntry"):
            value = self.number(entry.attrs.get("mappedValue", ""), "mappedValue", entry)
            if value is not None:
                entries[entry.attrs.get("mapKey", "").strip()] = value
        return entries


def _no_declaration(node: XmlNode) -> Problem:
    name = node.attrs.get("responseIdentifier", "")
    return syntax(
        f"no responseDeclaration has the identifier {name!r} of this interaction",
        f"没有标识符为 {name!r} 的 responseDeclaration",
        line=node.line,
        col=node.col,
    )


def _descendants(node: XmlNode) -> Iterator[XmlNode]:
    for child in node.children:
        yield child
        yield from _descendants(child)


def _interactions(item_body: XmlNode) -> Iterator[XmlNode]:
    return (n for n in _descendants(item_body) if n.tag.endswith("Interaction"))


def _default_values(declaration: XmlNode) -> list[str]:
    default = declaration.child("defaultValue")
    return [] if default is None else [v.text.strip() for v in default.all("value")]


def _correct_values(declaration: XmlNode | None) -> list[str]:
    correct = None if declaration is None else declaration.child("correctResponse")
    return [] if correct is None else [v.text.strip() for v in correct.all("value")]


def _max_score(declaration: XmlNode | None, values: Sequence[float], *, several: bool) -> float:
    mapping = None if declaration is None else declaration.child("mapping")
    bound = None if mapping is None else mapping.attrs.get("upperBound")
    try:
        if bound is not None and float(bound) > 0:
            return float(bound)
    except ValueError:
        pass
    positive = [v for v in values if v > 0]
    best = sum(positive) if several else max(positive, default=0.0)
    return best or 1.0


# --- XHTML text ---------------------------------------------------------------------


def _start_tag(node: XmlNode) -> str:
    attrs = "".join(f' {k}="{escape_attr(v)}"' for k, v in node.attrs.items())
    return f"<{node.tag}{attrs}"


def _outer_html(node: XmlNode, interaction: XmlNode | None) -> str:
    if node is interaction:
        return ""
    if node.tag in _LEFT_OUT:
        return ""
    inner = _inner_html(node, interaction)
    if interaction is not None and _holds(node, interaction) and not inner.strip():
        return ""
    if not inner and node.first is None:
        return f"{_start_tag(node)}/>"
    return f"{_start_tag(node)}>{inner}</{node.tag}>"


def _holds(node: XmlNode, target: XmlNode) -> bool:
    return any(n is target for n in _descendants(node))


def _inner_html(node: XmlNode, interaction: XmlNode | None) -> str:
    """``node``'s content as XHTML text, without ``interaction``."""
    parts = [escape(node.text)]
    for child in node.children:
        if child is interaction and child.tag == "textEntryInteraction":
            amid_text = (node.text + child.tail).strip() or any(
                c is not child for c in node.children
            )
            parts.append(_BLANK if amid_text else "")
        else:
            parts.append(_outer_html(child, interaction))
        parts.append(escape(child.tail))
    return "".join(parts)


def _unwrap(text: str) -> str:
    """The content of a lone attribute-less ``<div>`` (the wrapper ``dump`` writes)."""
    if text.startswith("<div>") and text.endswith("</div>") and text.count("<div") == 1:
        return text[5:-6].strip()
    return text


# --- Bodies -------------------------------------------------------------------------


def _choices(reader: _Reader, interaction: _Interaction) -> Body | None:
    node = interaction.node
    several = node.attrs.get("maxChoices", "1").strip() != "1"
    shuffle = node.attrs.get("shuffle", "false") == "true"
    mapped = reader.mapping(interaction)
    correct = set(_correct_values(interaction.declaration))
    top = _max_score(interaction.declaration, list(mapped.values()), several=several)
    options = tuple(
        Option(
            id=(choice_id := choice.attrs.get("identifier", "")),
            text=_inner_html(choice, None).strip(),
            fraction=(mapped.get(choice_id, 0.0) / top) if mapped else float(choice_id in correct),
            fixed=choice.attrs.get("fixed") == "true" or not shuffle,
        )
        for choice in node.all("simpleChoice")
    )
    if several:
        return MultipleChoice(options=options, scoring="partial" if mapped else "all_or_nothing")
    if sorted(o.id for o in options) == ["false", "true"]:
        correct_ids = [o.id for o in options if o.correct]
        return TrueFalse(answer=correct_ids[0] == "true" if correct_ids else None)
    return SingleChoice(options=options)


def _text_entry(reader: _Reader, interaction: _Interaction) -> Body | None:
    declaration = interaction.declaration
    base_type = "string" if declaration is None else declaration.attrs.get("baseType", "string")
    mapped = reader.mapping(interaction)
    top = _max_score(declaration, list(mapped.values()), several=False)
    answers = {key: value / top for key, value in mapped.items()}
    for value in _correct_values(declaration):
        answers.setdefault(value, 1.0)
    if base_type in ("float", "integer"):
        return _numerical(reader, interaction.node, answers)
    return FillBlank(
        answers=tuple(AcceptedText(text=text, fraction=f) for text, f in answers.items()),
        case_sensitive=_case_sensitive(declaration, bool(mapped)),
    )


def _case_sensitive(declaration: XmlNode | None, mapped: bool) -> bool:
    mapping = None if declaration is None or not mapped else declaration.child("mapping")
    if mapping is None:
        return True  # match_correct compares strings exactly
    return all(e.attrs.get("caseSensitive", "true") == "true" for e in mapping.all("mapEntry"))


def _numerical(reader: _Reader, node: XmlNode, answers: dict[str, float]) -> Body:
    numeric: list[NumericAnswer] = []
    for text, fraction in answers.items():
        value = reader.number(text, "the numeric response", node)
        if value is not None:
            numeric.append(NumericAnswer(value=value, fraction=fraction))
    return Numerical(answers=tuple(numeric))


def _match(reader: _Reader, interaction: _Interaction) -> Body | None:
    sets = list(interaction.node.all("simpleMatchSet"))
    if len(sets) != 2:
        reader.unsupported("a matchInteraction without exactly two match sets", interaction.node)
        return None
    sources, targets = ({c.attrs.get("identifier", ""): c for c in s.children} for s in sets)
    mapped = reader.mapping(interaction)
    wanted = [k for k, v in mapped.items() if v > 0] or _correct_values(interaction.declaration)
    pairs: list[Pair] = []
    used: set[str] = set()
    for value in wanted:
        source, _, target = value.partition(" ")
        if source in sources and target.strip() in targets:
            used.add(target.strip())
            prompt = _inner_html(sources[source], None).strip()
            pairs.append(
                Pair(prompt=prompt, answer=_inner_html(targets[target.strip()], None).strip())
            )
    distractors = tuple(
        _inner_html(node, None).strip() for key, node in targets.items() if key not in used
    )
    return Matching(pairs=tuple(pairs), distractors=distractors)


_BODY_READERS: dict[str, Callable[[_Reader, _Interaction], Body | None]] = {
    "choiceInteraction": _choices,
    "textEntryInteraction": _text_entry,
    "matchInteraction": _match,
}


# --- Packages -------------------------------------------------------------------------


def _parse_package(data: bytes) -> ParseResult:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        return ParseResult(problems=(_package_problem(f"the zip cannot be read: {error}"),))
    with archive:
        hrefs = _manifest_items(archive)
        if isinstance(hrefs, Problem):
            return ParseResult(problems=(hrefs,))
        items: list[ParsedItem] = []
        problems: list[Problem] = list(hrefs[1])
        metadata = _manifest_metadata(archive)
        bag = MediaBag()
        for href in hrefs[0]:
            content = _read_entry(archive, href)
            if isinstance(content, Problem):
                problems.append(at(content, file=href))
                continue
            found, trouble = _parse_document(content)
            found = [with_metadata(p, metadata.get(href)) for p in found]
            images = _PackageImages(archive, href, bag)
            items += (images.embed(p) for p in found)
            problems += (at(p, file=href) for p in [*trouble, *images.problems])
        problems += bag.problems
    media = tuple(bag.media.values())
    # Each item file the manifest lists is one question, read or not.
    unread = max(0, len(hrefs[0]) - len(items))
    return ParseResult(items=tuple(items), problems=tuple(problems), media=media, unread=unread)


class _PackageImages:
    """The images an item file of a package refers to by relative path, read from the
    zip into ``bag`` and referred to as ``media:<sha256>``."""

    def __init__(self, archive: zipfile.ZipFile, href: str, bag: MediaBag) -> None:
        self.archive, self.base, self.bag = archive, posixpath.dirname(href), bag
        self.problems: list[Problem] = []

    def embed(self, parsed: ParsedItem) -> ParsedItem:
        item = parsed.item
        body = item.body
        if isinstance(body, SingleChoice | MultipleChoice):
            options = tuple(
                msgspec.structs.replace(o, text=self.text(o.text)) for o in body.options
            )
            body = msgspec.structs.replace(body, options=options)
        item = msgspec.structs.replace(item, stem=self.text(item.stem), body=body)
        return ParsedItem(item=item, location=parsed.location)

    def text(self, text: str) -> str:
        return rewrite_sources(text, self.resolve) if "<img" in text or "![" in text else text

    def resolve(self, src: str) -> str | None:
        if "://" in src or src.startswith(("/", "data:", SCHEME)):
            return None
        path = posixpath.normpath(posixpath.join(self.base, urllib.parse.unquote(src)))
        if path.startswith("../"):
            return None
        try:
            info = self.archive.getinfo(path)
        except KeyError:
            self.problems.append(
                Problem(
                    code="media_missing",
                    message=f"the image {src!r} is not in the package",
                    message_zh=f"内容包中没有图片 {src!r}",
                    severity="warning",
                )
            )
            return None
        try:
            with self.archive.open(info) as entry:
                data = entry.read(MAX_IMAGE_BYTES + 1)  # at most one byte past the limit
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
            data = b""
        return self.bag.add(path, data)


def _package_problem(message: str, file: str = "") -> Problem:
    problem = syntax(message, f"QTI 内容包无法读取：{message}", line=0, col=0)
    return at(problem, file=file) if file else problem


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes | Problem:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return _package_problem(f"the manifest lists {name!r} but the package has no such file")
    too_large = _package_problem(f"{name!r} is larger than {_MAX_ENTRY >> 20} MB")
    if info.file_size > _MAX_ENTRY:
        return too_large
    try:
        # Read at most one byte past the limit: the declared size may lie (a zip bomb).
        with archive.open(info) as entry:
            content = entry.read(_MAX_ENTRY + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        return _package_problem(f"{name!r} cannot be read from the zip: {error}")
    return too_large if len(content) > _MAX_ENTRY else content


def _manifest_items(archive: zipfile.ZipFile) -> tuple[list[str], list[Problem]] | Problem:
    """The paths of the package's item files, and problems met reading the manifest."""
    manifest = "imsmanifest.xml"
    content = _read_entry(archive, manifest)
    if isinstance(content, Problem):
        return _package_problem("the zip has no imsmanifest.xml: it is not a QTI content package")
    root = read_xml(content, namespaces=True)
    if isinstance(root, Problem):
        return at(root, file=manifest)
    hrefs: list[str] = []
    problems: list[Problem] = []
    for resources in root.all("resources"):
        for resource in resources.all("resource"):
            kind = resource.attrs.get("type", "")
            if kind.startswith("imsqti_item"):
                hrefs.append(resource.attrs.get("href", ""))
            elif kind.startswith("imsqti_test"):
                part = "the assessment test (its items are read on their own)"
                problems.append(
                    at(unsupported_part(part, line=resource.line, col=resource.col), file=manifest)
                )
    return hrefs, problems


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_HEADS: dict[Version, tuple[str, str, str]] = {
    "2.2": (
        NS_22,
        "http://www.imsglobal.org/xsd/qti/qtiv2p2/imsqti_v2p2.xsd",
        "http://www.imsglobal.org/question/qti_v2p2/rptemplates/{}",
    ),
    "3.0": (
        NS_30,
        "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd",
        "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/{}.xml",
    ),
}
_KEBAB = re.compile(r"(?<!^)(?=[A-Z])")
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


class _Writer:
    """Spells elements and attributes for one QTI version."""

    def __init__(self, version: Version) -> None:
        self.version = version

    def name(self, name: str) -> str:
        if self.version == "2.2":
            return name
        return "qti-" + _KEBAB.sub("-", name).lower()

    def attr(self, name: str) -> str:
        return name if self.version == "2.2" else _KEBAB.sub("-", name).lower()

    def element(self, name: str, attrs: dict[str, str], content: str | None = None) -> str:
        spelled = self.name(name)
        head = spelled + "".join(f' {self.attr(k)}="{escape_attr(v)}"' for k, v in attrs.items())
        return f"<{head}/>" if content is None else f"<{head}>{content}</{spelled}>"

    def values(self, container: str, values: Sequence[str]) -> str:
        inner = "".join(self.element("value", {}, escape(v)) for v in values)
        return self.element(container, {}, inner)


def dump(items: Sequence[Item], media: Mapping[str, Media] | None = None) -> bytes:
    """The items as a QTI 2.2 zip content package (however many: only the manifest can
    carry an item's topic and tags), with the images of ``media`` (by hash) they show."""
    return dump_package(items, media=media)


def dump_item(item: Item, version: Version = "2.2") -> bytes:
    """``item`` as a QTI item document of ``version``."""
    writer = _Writer(version)
    namespace, schema, template = _HEADS[version]
    declaration, interaction, rules = _parts(writer, item.body)
    outcomes = [_outcome(writer, "SCORE", 0.0)]
    if item.points != 1.0:
        outcomes.append(_outcome(writer, "MAXSCORE", item.points))
    stem = f"<div>{_xhtml(item.stem)}</div>" if item.stem else ""
    processing = writer.element("responseProcessing", {"template": template.format(rules)})
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        _root_tag(writer, item.key, namespace, schema),
        f"  {declaration}",
        *(f"  {outcome}" for outcome in outcomes),
        f"  {writer.element('itemBody', {}, stem + interaction)}",
        f"  {processing}",
        f"</{writer.name('assessmentItem')}>\n",
    ]
    return "\n".join(lines).encode()


def _root_tag(writer: _Writer, key: str, namespace: str, schema: str) -> str:
    # The identifier must be a QTI identifier; the label keeps the key as written, and
    # the reader restores it from there (``original_key``).
    attrs = {"identifier": qti_identifier(key), "title": key}
    if qti_identifier(key) != key:
        attrs["label"] = key
    if writer.version == "2.2":
        attrs["adaptive"] = "false"  # required in QTI 2.x, gone in 3.0
    attrs["timeDependent"] = "false"
    spelled = "".join(f' {writer.attr(k)}="{escape_attr(v)}"' for k, v in attrs.items())
    return (
        f'<{writer.name("assessmentItem")} xmlns="{namespace}" xmlns:xsi="{_XSI}" '
        f'xsi:schemaLocation="{namespace} {schema}"{spelled}>'
    )


def _outcome(writer: _Writer, name: str, value: float) -> str:
    attrs = {"identifier": name, "cardinality": "single", "baseType": "float"}
    return writer.element(
        "outcomeDeclaration", attrs, writer.values("defaultValue", [number(value)])
    )


#: An HTML void element (``<img …>``, ``<br>``) not closed as XML wants it.
_VOID = re.compile(r"<(img|br|hr|col|area|source|wbr)\b([^<>]*?)\s*/?>", re.IGNORECASE)


def _xhtml(text: str) -> str:
    """``text`` as it goes into XHTML: as written when well-formed (HTML's void elements
    closed, ``<img …/>``), else escaped."""
    text = _ENTITY.sub(_numeric_entity, text)
    if "<" in text:
        text = _VOID.sub(r"<\1\2/>", text)
    fragment = read_xml(f"<div>{text}</div>".encode())
    return text if isinstance(fragment, XmlNode) else escape(text)


def _numeric_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    code = html.entities.name2codepoint.get(name)
    return match.group(0) if code is None or name in _XML_ENTITIES else f"&#{code};"


# --- Bodies -------------------------------------------------------------------------


def _declaration(
    writer: _Writer,
    cardinality: str,
    base_type: str,
    correct: Sequence[str],
    mapping: str = "",
) -> str:
    attrs = {"identifier": "RESPONSE", "cardinality": cardinality, "baseType": base_type}
    content = (writer.values("correctResponse", correct) if correct else "") + mapping
    return writer.element("responseDeclaration", attrs, content)


def _mapping(writer: _Writer, entries: Sequence[tuple[str, float]], **extra: str) -> str:
    """A mapping with SCORE bounded to [0, 1] (fractions are shares of the points)."""
    inner = "".join(
        writer.element("mapEntry", {"mapKey": key, "mappedValue": number(value), **extra})
        for key, value in entries
    )
    attrs = {"lowerBound": "0", "upperBound": "1", "defaultValue": "0"}
    return writer.element("mapping", attrs, inner)


def _parts(writer: _Writer, body: Body) -> tuple[str, str, str]:
    """The response declaration, the interaction and the response template of ``body``."""
    match body:
        case SingleChoice(options=options):
            return _choice_parts(writer, options, several=False, partial=False)
        case MultipleChoice(options=options, scoring=scoring):
            return _choice_parts(writer, options, several=True, partial=scoring == "partial")
        case TrueFalse(answer=answer):
            options = (
                Option(id="true", text="True", fraction=float(answer is True), fixed=True),
                Option(id="false", text="False", fraction=float(answer is False), fixed=True),
            )
            return _choice_parts(writer, options, several=False, partial=False)
        case FillBlank():
            return _fill_blank_parts(writer, body)
        case Numerical():
            return _numerical_parts(writer, body)
        case Matching():
            return _matching_parts(writer, body)


def _choice_parts(
    writer: _Writer, options: Sequence[Option], *, several: bool, partial: bool
) -> tuple[str, str, str]:
    """Partial credit is a mapping; otherwise the correct options are the response.

    Single choice with a partly right option needs the mapping too; all-or-nothing
    multiple choice only needs which options are correct.
    """
    options = [msgspec.structs.replace(o, id=qti_identifier(o.id)) for o in options]
    if not several:
        partial = any(o.fraction not in (0.0, 1.0) for o in options)
    correct = [o.id for o in options if (o.fraction >= 1.0 if partial else o.correct)]
    if not several:
        correct = correct[:1]
    entries = [(o.id, o.fraction) for o in options if o.fraction]
    mapping = _mapping(writer, entries) if partial else ""
    declaration = _declaration(
        writer, "multiple" if several else "single", "identifier", correct, mapping
    )
    shuffle = not all(o.fixed for o in options)
    choices = "".join(
        writer.element(
            "simpleChoice",
            {"identifier": o.id, **({"fixed": "true"} if o.fixed and shuffle else {})},
            _xhtml(o.text),
        )
        for o in options
    )
    attrs = {
        "responseIdentifier": "RESPONSE",
        "shuffle": "true" if shuffle else "false",
        "maxChoices": "0" if several else "1",
    }
    interaction = writer.element("choiceInteraction", attrs, choices)
    return declaration, interaction, "map_response" if partial else "match_correct"


def _entry_interaction(writer: _Writer) -> str:
    entry = writer.element("textEntryInteraction", {"responseIdentifier": "RESPONSE"})
    return f"<p>{entry}</p>"


def _fill_blank_parts(writer: _Writer, body: FillBlank) -> tuple[str, str, str]:
    best = max(body.answers, key=lambda a: a.fraction, default=None)
    case = "true" if body.case_sensitive else "false"
    mapping = _mapping(writer, [(a.text, a.fraction) for a in body.answers], caseSensitive=case)
    correct = [] if best is None else [best.text]
    declaration = _declaration(writer, "single", "string", correct, mapping)
    return declaration, _entry_interaction(writer), "map_response"


def _numerical_parts(writer: _Writer, body: Numerical) -> tuple[str, str, str]:
    best = max(body.answers, key=lambda a: a.fraction, default=None)
    correct = [] if best is None else [number(best.value)]
    exact = len(body.answers) == 1 and body.answers[0].fraction == 1.0
    mapping = (
        "" if exact else _mapping(writer, [(number(a.value), a.fraction) for a in body.answers])
    )
    declaration = _declaration(writer, "single", "float", correct, mapping)
    return declaration, _entry_interaction(writer), "match_correct" if exact else "map_response"


def _matching_parts(writer: _Writer, body: Matching) -> tuple[str, str, str]:
    answers = list(dict.fromkeys([p.answer for p in body.pairs] + list(body.distractors)))
    target = {answer: f"T{index + 1}" for index, answer in enumerate(answers)}
    pairs = [f"S{index + 1} {target[p.answer]}" for index, p in enumerate(body.pairs)]
    mapping = _mapping(writer, [(pair, 1 / len(pairs)) for pair in pairs]) if pairs else ""
    declaration = _declaration(writer, "multiple", "directedPair", pairs, mapping)
    sources = "".join(
        writer.element(
            "simpleAssociableChoice", {"identifier": f"S{i + 1}", "matchMax": "1"}, _xhtml(p.prompt)
        )
        for i, p in enumerate(body.pairs)
    )
    uses = [sum(p.answer == answer for p in body.pairs) for answer in answers]
    targets = "".join(
        writer.element(
            "simpleAssociableChoice",
            {"identifier": target[a], "matchMax": str(max(n, 1))},
            _xhtml(a),
        )
        for a, n in zip(answers, uses, strict=True)
    )
    sets = writer.element("simpleMatchSet", {}, sources) + writer.element(
        "simpleMatchSet", {}, targets
    )
    attrs = {
        "responseIdentifier": "RESPONSE",
        "shuffle": "true",
        "maxAssociations": str(len(pairs)),
    }
    return declaration, writer.element("matchInteraction", attrs, sets), "map_response"


# --- Packages -------------------------------------------------------------------------

_MANIFEST_NS: dict[Version, tuple[str, str]] = {
    "2.2": ("http://www.imsglobal.org/xsd/imscp_v1p1", "imsqti_item_xmlv2p2"),
    "3.0": ("http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1", "imsqti_item_xmlv3p0"),
}
#: Characters a file name in a package may not keep: anything but letters and digits of
#: any script (Chinese stays: zip names are UTF-8, flagged as such), "_", "." and "-".
_UNSAFE = re.compile(r"[^\w.-]+")


def dump_package(
    items: Sequence[Item], version: Version = "2.2", media: Mapping[str, Media] | None = None
) -> bytes:
    """The items as a zip content package: ``imsmanifest.xml``, one file per item and,
    under ``images/``, each image of ``media`` an item shows (referred to by relative
    path, listed among the item's resource files, read back by ``_PackageImages``).

    The zip is the same bytes for the same items (fixed time stamps).
    """
    paths = [
        f"items/{index + 1:04d}-{_UNSAFE.sub('_', item.key).strip('_')[:60]}.xml"
        for index, item in enumerate(items)
    ]
    images: dict[str, Media] = {}
    shown: list[list[str]] = []
    written: list[Item] = []
    for original in items:
        item, used = _with_image_paths(original, media or {})
        written.append(item)
        shown.append([f"{_IMAGES}{file_name(m)}" for m in used])
        images.update((m.sha256, m) for m in used)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write(archive, "imsmanifest.xml", _manifest(paths, written, version, shown))
        for path, item in zip(paths, written, strict=True):
            _write(archive, path, dump_item(item, version))
        for image in images.values():
            _write(archive, _IMAGES + file_name(image), image.data)
    return buffer.getvalue()


#: Where a package keeps its images (items are in ``items/``, so they refer to
#: ``../images/…``).
_IMAGES = "images/"


def _with_image_paths(item: Item, media: Mapping[str, Media]) -> tuple[Item, list[Media]]:
    """``item`` with its stem's and options' ``media:`` images referred to by their path
    in the package, and those images."""
    if not media:
        return item, []

    def target(image: Media) -> str:
        return f"../{_IMAGES}{file_name(image)}"

    stem, used = embed(item.stem, media, target)
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        options = []
        for option in body.options:
            text, more = embed(option.text, media, target)
            used += more
            options.append(msgspec.structs.replace(option, text=text))
        body = msgspec.structs.replace(body, options=tuple(options))
    unique = list({m.sha256: m for m in used}.values())
    return msgspec.structs.replace(item, stem=stem, body=body), unique


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _manifest(
    paths: Sequence[str],
    items: Sequence[Item],
    version: Version,
    images: Sequence[Sequence[str]] = (),
) -> bytes:
    namespace, kind = _MANIFEST_NS[version]
    files = [
        "".join(f'<file href="{escape_attr(href)}"/>' for href in [path, *extra])
        for path, extra in itertools.zip_longest(paths, images, fillvalue=())
    ]
    resources = "".join(
        f'\n    <resource identifier="RES-{index + 1}" type="{kind}" href="{escape_attr(path)}">'
        f"{_lom(item)}{listed}</resource>"
        for index, (path, item, listed) in enumerate(zip(paths, items, files, strict=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest xmlns="{namespace}" identifier="MANIFEST-1">\n'
        "  <metadata><schema>QTI Package</schema>"
        f"<schemaversion>{version}</schemaversion></metadata>\n"
        "  <organizations/>\n"
        f"  <resources>{resources}\n  </resources>\n"
        "</manifest>\n"
    ).encode()


# --- Identifiers and metadata ----------------------------------------------------------

_NAME_START = re.compile(r"[A-Za-z_]")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_.-]")
_ESCAPE = re.compile(r"_x([0-9A-F]{4,6})_")
_LOM = "http://ltsc.ieee.org/xsd/LOM"


def qti_identifier(key: str) -> str:
    """``key`` as a QTI identifier (an ASCII NCName: a letter or ``_`` first, then letters,
    digits, ``_``, ``.``, ``-``), the same for the same key and distinct for distinct keys.

    Every other character is written ``_xHHHH_`` (its code point, as XML name encoding
    does), and so is a ``_`` that would read as the start of such an escape: ``geo 001``
    → ``geo_x0020_001``, ``地理-2`` → ``_x5730__x7406_-2``, ``2024-01`` → ``_x0032_024-01``.
    A key that already is an identifier is written as it is.
    """
    out = []
    for index, char in enumerate(key):
        allowed = (_NAME_START if index == 0 else _NAME_CHAR).fullmatch(char)
        if allowed and not (char == "_" and _ESCAPE.match(key, index)):
            out.append(char)
        else:
            out.append(f"_x{ord(char):04X}_")
    return "".join(out) or "_"


def original_key(attrs: dict[str, str]) -> str:
    """The item key of an ``assessmentItem``: its ``label`` when that is what this module
    wrote (the label's identifier is the identifier), else the identifier."""
    identifier = attrs.get("identifier", "")
    label = attrs.get("label", "")
    return label if label and qti_identifier(label) == identifier else identifier


#: LOM's vocabularies for what an item's difficulty band and status are.
_LOM_DIFFICULTY = ("very easy", "easy", "medium", "difficult", "very difficult")
_LOM_STATUS = {Status.DRAFT: "draft", Status.ACTIVE: "final", Status.RETIRED: "unavailable"}


class _Metadata(NamedTuple):
    topic: str = ""
    tags: tuple[str, ...] = ()
    band: int | None = None
    status: Status = Status.ACTIVE


def _vocabulary(value: str) -> str:
    return f"<source>LOMv1.0</source><value>{value}</value>"


def _lom(item: Item) -> str:
    """The item's topic (a classification taxon), tags (keywords), difficulty band
    (educational difficulty, 1 = very easy … 5 = very difficult) and status (life-cycle
    status: draft, final = active, unavailable = retired) as IEEE LOM in the manifest,
    where a QTI package keeps an item's metadata; empty when it has none of them."""
    parts = []
    if item.tags:
        keywords = "".join(f"<keyword><string>{escape(t)}</string></keyword>" for t in item.tags)
        parts.append(f"<general>{keywords}</general>")
    if item.status != Status.ACTIVE:
        parts.append(
            f"<lifeCycle><status>{_vocabulary(_LOM_STATUS[item.status])}</status></lifeCycle>"
        )
    band = item.difficulty.band
    if band is not None and 1 <= band <= len(_LOM_DIFFICULTY):
        difficulty = _vocabulary(_LOM_DIFFICULTY[band - 1])
        parts.append(f"<educational><difficulty>{difficulty}</difficulty></educational>")
    if item.topic:
        parts.append(
            f"<classification><purpose>{_vocabulary('discipline')}</purpose>"
            f"<taxonPath><taxon><entry><string>{escape(item.topic)}</string></entry></taxon>"
            "</taxonPath></classification>"
        )
    return f'<metadata><lom xmlns="{_LOM}">{"".join(parts)}</lom></metadata>' if parts else ""


def package_metadata(manifest: XmlNode) -> dict[str, _Metadata]:
    """Item file path → the metadata ``_lom`` writes, read from the manifest's resources:
    the first classification taxon's entry is the topic, the general keywords the tags,
    the educational difficulty the band and the life-cycle status the status."""
    found: dict[str, _Metadata] = {}
    for resources in manifest.all("resources"):
        for resource in resources.all("resource"):
            lom = _path(resource, "metadata", "lom")
            if lom is None:
                continue
            taxon = _path(lom, "classification", "taxonPath", "taxon", "entry", "string")
            general = lom.child("general")
            tags = tuple(
                text
                for keyword in (general.all("keyword") if general is not None else ())
                for string in keyword.all("string")
                if (text := string.text.strip())
            )
            difficulty = _path(lom, "educational", "difficulty", "value")
            level = difficulty.text.strip().lower() if difficulty is not None else ""
            status = _path(lom, "lifeCycle", "status", "value")
            state = status.text.strip().lower() if status is not None else ""
            found[resource.attrs.get("href", "")] = _Metadata(
                topic=taxon.text.strip() if taxon is not None else "",
                tags=tags,
                band=_LOM_DIFFICULTY.index(level) + 1 if level in _LOM_DIFFICULTY else None,
                status=next((k for k, v in _LOM_STATUS.items() if v == state), Status.ACTIVE),
            )
    return found


def _manifest_metadata(archive: zipfile.ZipFile) -> dict[str, _Metadata]:
    content = _read_entry(archive, "imsmanifest.xml")
    root = None if isinstance(content, Problem) else read_xml(content, namespaces=True)
    return package_metadata(root) if isinstance(root, XmlNode) else {}


def with_metadata(parsed: ParsedItem, metadata: _Metadata | None) -> ParsedItem:
    """``parsed`` with the topic, tags, difficulty band and status its manifest gives."""
    if metadata is None:
        return parsed
    item = parsed.item
    difficulty = msgspec.structs.replace(item.difficulty, band=metadata.band)
    item = msgspec.structs.replace(
        item,
        topic=metadata.topic,
        tags=metadata.tags,
        difficulty=difficulty if metadata.band is not None else item.difficulty,
        status=metadata.status,
    )
    return ParsedItem(item=item, location=parsed.location)


def _path(node: XmlNode | None, *tags: str) -> XmlNode | None:
    for tag in tags:
        if node is None:
            return None
        node = node.child(tag)
    return node
