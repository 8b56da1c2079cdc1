"""QTI 2.1, 2.2 and 3.0 items: what each interaction reads as, what is refused, packages
and round trips."""

from __future__ import annotations

import io
import zipfile

import pytest

from itembank.formats import qti
from itembank.model import (
    AcceptedText,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    TrueFalse,
)

CHOICE_21 = b"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
    identifier="choice-1" title="Luggage" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>ChoiceA</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>Look at the <em>sign</em>.</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
      <prompt>What does it say?</prompt>
      <simpleChoice identifier="ChoiceA">Stay with your luggage</simpleChoice>
      <simpleChoice identifier="ChoiceB" fixed="true">Leave it</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
"""

MULTIPLE_22 = b"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p2" identifier="mr-1"
    title="Primes" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
    <correctResponse><value>A</value><value>B</value></correctResponse>
    <mapping lowerBound="0" defaultValue="0">
      <mapEntry mapKey="A" mappedValue="2"/>
      <mapEntry mapKey="B" mappedValue="2"/>
      <mapEntry mapKey="C" mappedValue="-1"/>
    </mapping>
  </responseDeclaration>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>4</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="0">
      <prompt>Which are prime?</prompt>
      <simpleChoice identifier="A">2</simpleChoice>
      <simpleChoice identifier="B">3</simpleChoice>
      <simpleChoice identifier="C">4</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p2/rptemplates/map_response"/>
</assessmentItem>
"""

TEXT_ENTRY_30 = """<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
    identifier="te-1" title="首都" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string">
    <qti-correct-response><qti-value>北京</qti-value></qti-correct-response>
    <qti-mapping default-value="0">
      <qti-map-entry map-key="北京" mapped-value="1" case-sensitive="false"/>
      <qti-map-entry map-key="Beijing" mapped-value="0.5" case-sensitive="false"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-item-body>
    <p>中国的首都是 <qti-text-entry-interaction response-identifier="RESPONSE"/> 。</p>
  </qti-item-body>
  <qti-response-processing
      template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"/>
</qti-assessment-item>
""".encode()


def item_xml(body: str, *, declaration: str = "", processing: str = "", ns: str = "v2p2") -> bytes:
    return f"""<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_{ns}" identifier="x">
{declaration}
<itemBody>
{body}
</itemBody>
{processing}
</assessmentItem>""".encode()


def only_item(data: bytes) -> Item:
    result = qti.parse(data)
    assert result.problems == ()
    assert len(result.items) == 1
    return result.items[0].item


def test_qti21_choice_interaction_reads_as_single_choice_with_prompt_after_body_text():
    item = only_item(CHOICE_21)
    assert item.key == "choice-1"
    assert item.stem == "<p>Look at the <em>sign</em>.</p>\n\nWhat does it say?"
    assert item.body == SingleChoice(
        options=(
            Option(id="ChoiceA", text="Stay with your luggage", fraction=1.0),
            Option(id="ChoiceB", text="Leave it", fixed=True),
        )
    )


def test_qti22_map_response_reads_as_partial_multiple_choice_over_the_max_score():
    item = only_item(MULTIPLE_22)
    assert item.points == 4.0
    assert item.stem == "Which are prime?"
    assert item.body == MultipleChoice(
        options=(
            Option(id="A", text="2", fraction=0.5, fixed=True),
            Option(id="B", text="3", fraction=0.5, fixed=True),
            Option(id="C", text="4", fraction=-0.25, fixed=True),
        ),
        scoring="partial",
    )


def test_match_correct_multiple_choice_is_all_or_nothing():
    declaration = """<responseDeclaration identifier="R" cardinality="multiple"
 baseType="identifier"><correctResponse><value>a</value><value>b</value></correctResponse></responseDeclaration>"""
    body = """<choiceInteraction responseIdentifier="R" maxChoices="2">
<simpleChoice identifier="a">A</simpleChoice><simpleChoice identifier="b">B</simpleChoice>
<simpleChoice identifier="c">C</simpleChoice></choiceInteraction>"""
    processing = '<responseProcessing template="match_correct.xml"/>'
    item = only_item(item_xml(body, declaration=declaration, processing=processing))
    assert isinstance(item.body, MultipleChoice)
    assert item.body.scoring == "all_or_nothing"
    assert [o.fraction for o in item.body.options] == [1.0, 1.0, 0.0]


def test_qti30_text_entry_reads_as_fill_blank_with_mapped_answers_and_a_blank_in_the_stem():
    item = only_item(TEXT_ENTRY_30)
    assert item.key == "te-1"
    assert item.stem == "<p>中国的首都是 ____ 。</p>"
    assert item.body == FillBlank(
        answers=(AcceptedText(text="北京"), AcceptedText(text="Beijing", fraction=0.5)),
        case_sensitive=False,
    )


def test_numeric_text_entry_reads_as_numerical():
    declaration = """<responseDeclaration identifier="R" cardinality="single" baseType="float">
<correctResponse><value>3.14</value></correctResponse></responseDeclaration>"""
    body = '<p>Pi is <textEntryInteraction responseIdentifier="R"/></p>'
    item = only_item(item_xml(body, declaration=declaration, ns="v2p1"))
    assert item.body == Numerical(answers=(NumericAnswer(value=3.14),))


def test_match_interaction_reads_pairs_and_unused_answers_as_distractors():
    declaration = """<responseDeclaration identifier="R" cardinality="multiple"
 baseType="directedPair"><correctResponse><value>C M</value><value>E B</value>
</correctResponse></responseDeclaration>"""
    body = """<matchInteraction responseIdentifier="R" maxAssociations="2">
<simpleMatchSet><simpleAssociableChoice identifier="C" matchMax="1">Cat</simpleAssociableChoice>
<simpleAssociableChoice identifier="E" matchMax="1">Eagle</simpleAssociableChoice></simpleMatchSet>
<simpleMatchSet><simpleAssociableChoice identifier="M" matchMax="2">Mammal</simpleAssociableChoice>
<simpleAssociableChoice identifier="B" matchMax="2">Bird</simpleAssociableChoice>
<simpleAssociableChoice identifier="F" matchMax="2">Fish</simpleAssociableChoice></simpleMatchSet>
</matchInteraction>"""
    item = only_item(item_xml(body, declaration=declaration))
    assert item.body == Matching(
        pairs=(Pair(prompt="Cat", answer="Mammal"), Pair(prompt="Eagle", answer="Bird")),
        distractors=("Fish",),
    )


@pytest.mark.parametrize(
    "template",
    [
        "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct",
        "http://www.imsglobal.org/question/qti_v2p2/rptemplates/match_correct.xml",
        "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml",
        "match_correct.xml",
        "match_correct",
    ],
)
def test_match_correct_template_is_recognised_however_its_address_is_spelled(template):
    data = CHOICE_21.replace(
        b"http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct", template.encode()
    )
    assert only_item(data).body.options[0].fraction == 1.0  # type: ignore[union-attr]


def test_custom_response_processing_is_unsupported_with_its_line():
    data = CHOICE_21.replace(
        b'<responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>',
        b"<responseProcessing><responseCondition/></responseProcessing>",
    )
    result = qti.parse(data, source="item.xml")
    assert result.items == ()
    (problem,) = result.problems
    assert (
        problem.message == "custom response processing is not supported; the item was not imported"
    )
    assert (problem.file, problem.line, problem.col) == ("item.xml", 16, 3)


@pytest.mark.parametrize(
    "interaction",
    ["orderInteraction", "associateInteraction", "hotspotInteraction", "extendedTextInteraction"],
)
def test_other_interactions_are_unsupported_with_their_line(interaction):
    data = item_xml(f'<p>x</p>\n<{interaction} responseIdentifier="R"/>')
    (problem,) = qti.parse(data).problems
    assert problem.code == "unsupported"
    assert problem.message == f"the QTI {interaction} is not supported; the item was not imported"
    assert (problem.line, problem.col) == (5, 1)


def test_feedback_is_reported_as_left_out():
    data = CHOICE_21.replace(
        b"</itemBody>",
        b"</itemBody>\n  <modalFeedback outcomeIdentifier='FEEDBACK' identifier='x'"
        b" showHide='show'>Hi</modalFeedback>",
    )
    result = qti.parse(data)
    assert len(result.items) == 1
    (problem,) = result.problems
    assert problem.code == "unsupported-part"
    assert problem.line == 16


def test_malformed_item_is_a_syntax_problem_at_expats_place():
    (problem,) = qti.parse(b"<assessmentItem>\n<itemBody>\n</assessmentItem>").problems
    assert problem.message == "the XML is not well-formed: mismatched tag"
    assert (problem.line, problem.col) == (3, 3)


def test_a_root_outside_the_qti_namespace_is_reported():
    (problem,) = qti.parse(b"<assessmentItem identifier='x'/>").problems
    assert problem.message.startswith("the root element is <assessmentItem>; a QTI item is")
    assert (problem.line, problem.col) == (1, 1)


def test_doctype_is_refused():
    (problem,) = qti.parse(b'<!DOCTYPE a [<!ENTITY x "y">]><a/>').problems
    assert problem.message == "a DOCTYPE is not allowed: DTDs and entity declarations are refused"


def package(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


MANIFEST = b"""<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M">
<resources>
<resource identifier="r1" type="imsqti_item_xmlv2p1" href="items/choice.xml"/>
<resource identifier="r2" type="imsqti_item_xmlv2p2" href="items/broken.xml"/>
<resource identifier="r3" type="imsqti_item_xmlv3p0" href="te.xml"/>
</resources>
</manifest>"""


def test_package_reads_every_listed_item_and_places_problems_in_their_file():
    data = package(
        {
            "imsmanifest.xml": MANIFEST,
            "items/choice.xml": CHOICE_21,
            "items/broken.xml": b"<assessmentItem>",
            "te.xml": TEXT_ENTRY_30,
        }
    )
    result = qti.parse(data, source="bank.zip")
    assert [p.item.key for p in result.items] == ["choice-1", "te-1"]
    (problem,) = result.problems
    assert (problem.file, problem.line, problem.code) == ("items/broken.xml", 1, "syntax")


def test_package_without_manifest_is_reported():
    (problem,) = qti.parse(package({"a.xml": CHOICE_21})).problems
    assert problem.message == "the zip has no imsmanifest.xml: it is not a QTI content package"


def test_package_listing_a_missing_file_is_reported():
    data = package(
        {"imsmanifest.xml": MANIFEST, "items/choice.xml": CHOICE_21, "te.xml": TEXT_ENTRY_30}
    )
    (problem,) = qti.parse(data).problems
    assert problem.file == "items/broken.xml"
    assert "the package has no such file" in problem.message


ITEMS = (
    Item(
        key="sc-1",
        stem="Which is <b>prime</b>? 哪个是质数？",
        body=SingleChoice(
            options=(Option(id="A", text="4"), Option(id="B", text="5", fraction=1.0))
        ),
        points=2.0,
    ),
    Item(
        key="sc-2",
        stem="a < b & c",
        body=SingleChoice(
            options=(
                Option(id="A", text="half", fraction=0.5),
                Option(id="B", text="full", fraction=1.0),
                Option(id="C", text="none of these", fixed=True),
            )
        ),
    ),
    Item(
        key="mr-1",
        stem="Pick",
        body=MultipleChoice(
            options=(
                Option(id="A", text="2", fraction=0.5, fixed=True),
                Option(id="B", text="3", fraction=0.5, fixed=True),
                Option(id="C", text="4", fraction=-1.0, fixed=True),
            ),
            scoring="partial",
        ),
    ),
    Item(
        key="mr-2",
        stem="Both",
        body=MultipleChoice(
            options=(Option(id="A", text="x", fraction=1.0), Option(id="B", text="y"))
        ),
    ),
    Item(key="tf-1", stem="Sky is blue", body=TrueFalse(answer=False)),
    Item(
        key="fb-1",
        stem="<p>Capital of 中国</p>",
        body=FillBlank(
            answers=(AcceptedText(text="北京"), AcceptedText(text="Peking", fraction=0.5))
        ),
    ),
    Item(
        key="fb-2",
        stem="Case",
        body=FillBlank(answers=(AcceptedText(text="DNA"),), case_sensitive=True),
    ),
    Item(key="nu-1", stem="π", body=Numerical(answers=(NumericAnswer(value=3.14),))),
    Item(
        key="nu-2",
        stem="e",
        body=Numerical(answers=(NumericAnswer(value=2.72), NumericAnswer(value=2.7, fraction=0.5))),
    ),
    Item(
        key="ma-1",
        stem="Match",
        body=Matching(
            pairs=(
                Pair(prompt="a", answer="1"),
                Pair(prompt="b", answer="2"),
                Pair(prompt="c", answer="1"),
            ),
            distractors=("3",),
        ),
    ),
)


def expected_back(item: Item) -> Item:
    """What QTI keeps: ``a < b`` comes back as the same HTML, ``a &lt; b``."""
    stem = item.stem.replace("&", "&amp;").replace("<", "&lt;") if item.key == "sc-2" else item.stem
    return Item(key=item.key, stem=stem, body=item.body, points=item.points)


@pytest.mark.parametrize("version", ["2.2", "3.0"])
@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.key)
def test_dump_item_then_parse_gives_the_same_item(item, version):
    assert only_item(qti.dump_item(item, version)) == expected_back(item)


def test_dump_item_30_uses_kebab_case_names_and_the_qti3_namespace():
    text = qti.dump_item(ITEMS[0], "3.0").decode()
    assert '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"' in text
    assert '<qti-choice-interaction response-identifier="RESPONSE"' in text
    assert "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml" in text
    assert "<div>Which is <b>prime</b>?" in text


def test_dump_of_one_item_is_a_qti22_package_too():
    """A package even for one item: only its manifest carries the topic and tags."""
    data = qti.dump([ITEMS[0]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        text = archive.read(names[1]).decode()
    assert names[0] == "imsmanifest.xml"
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<assessmentItem')
    assert "http://www.imsglobal.org/xsd/imsqti_v2p2" in text
    assert [p.item for p in qti.parse(data).items] == [expected_back(ITEMS[0])]


@pytest.mark.parametrize("version", ["2.2", "3.0"])
def test_dump_of_several_items_is_a_package_that_parses_back(version):
    data = qti.dump_package(ITEMS, version) if version == "3.0" else qti.dump(ITEMS)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist()[0] == "imsmanifest.xml"
    result = qti.parse(data)
    assert result.problems == ()
    assert tuple(p.item for p in result.items) == tuple(expected_back(i) for i in ITEMS)


def test_dump_is_deterministic():
    assert qti.dump(ITEMS) == qti.dump(ITEMS)


def test_a_package_counts_every_listed_item_file_as_a_question_read_or_not():
    data = qti.dump(ITEMS[:3])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    broken = sorted(files)[1]
    files[broken] = b"<assessmentItem"  # cut short: not well-formed
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    result = qti.parse(buffer.getvalue())
    assert (len(result.items), result.items_seen) == (2, 3)
