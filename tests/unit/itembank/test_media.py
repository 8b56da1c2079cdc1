"""Images in bank files (itembank.media): Moodle XML's base64 files and QTI packages'
image files become ``media:<sha256>`` references and bytes in the parse result; what
is too large, of another type or one too many is a problem naming the file."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zipfile
import zlib

import pytest

from itembank import exporting, formats, media
from itembank.formats import moodle_xml, qti
from itembank.lint import lint_file
from itembank.model import Item, Option, SingleChoice


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG of one colour (the e2e test shows one)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def moodle(
    files: str, stem: str = '<p>看图：<img src="@@PLUGINFILE@@/circuit%20a.png"></p>'
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="multichoice">
    <name><text>图题</text></name>
    <questiontext format="html"><text><![CDATA[{stem}]]></text>{files}</questiontext>
    <generalfeedback format="html"><text></text></generalfeedback>
    <single>true</single>
    <answer fraction="100"><text>甲</text></answer>
    <answer fraction="0"><text>乙</text></answer>
  </question>
</quiz>""".encode()


def file_element(name: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return f'<file name="{name}" path="/" encoding="base64">{encoded}</file>'


def test_sniff_tells_the_four_image_types_by_their_first_bytes() -> None:
    assert media.sniff(png()) == "image/png"
    assert media.sniff(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert media.sniff(b"GIF89a...") == "image/gif"
    assert media.sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert media.sniff(b"<svg onload=alert(1)>") is None
    assert media.sniff(b"MZ\x90\x00") is None


def test_a_moodle_base64_image_becomes_a_media_reference_with_its_bytes() -> None:
    image = png()
    sha = hashlib.sha256(image).hexdigest()
    result = moodle_xml.parse(moodle(file_element("circuit a.png", image)), source="q.xml")
    assert result.problems == ()
    (parsed,) = result.items
    assert parsed.item.stem == f'<p>看图：<img src="media:{sha}"></p>'
    (found,) = result.media
    assert (found.sha256, found.mime, found.name, found.data) == (
        sha,
        "image/png",
        "circuit a.png",
        image,
    )


def test_a_moodle_image_in_an_answer_is_read_too_and_stored_once() -> None:
    image = png()
    sha = hashlib.sha256(image).hexdigest()
    data = moodle(file_element("a.png", image), stem='<img src="@@PLUGINFILE@@/a.png">').replace(
        b'<answer fraction="0"><text>\xe4\xb9\x99</text></answer>',
        f'<answer fraction="0"><text><![CDATA[<img src="@@PLUGINFILE@@/a.png">]]></text>'
        f"{file_element('a.png', image)}</answer>".encode(),
    )
    result = moodle_xml.parse(data)
    body = result.items[0].item.body
    assert isinstance(body, SingleChoice)
    assert body.options[1].text == f'<img src="media:{sha}">'
    assert len(result.media) == 1


def test_a_moodle_file_that_is_not_an_image_is_refused_naming_it() -> None:
    result = lint_file(
        moodle(file_element("circuit a.png", b"<svg/>")), source="q.xml", format="moodle"
    )
    assert not result.ok
    (problem,) = [p for p in result.problems if p.code == "media_type"]
    assert "circuit a.png" in problem.message and "circuit a.png" in problem.message_zh
    assert problem.file == "q.xml" and problem.line > 0
    assert result.media == ()


def test_an_image_over_the_limit_is_refused_naming_it() -> None:
    big = png() + b"\x00" * media.MAX_IMAGE_BYTES
    result = lint_file(moodle(file_element("huge.png", big)), source="q.xml", format="moodle")
    assert not result.ok
    (problem,) = [p for p in result.problems if p.code == "media_too_large"]
    assert "huge.png" in problem.message and "MiB" in problem.message_zh


def test_one_image_too_many_is_refused() -> None:
    bag = media.MediaBag()
    for n in range(media.MAX_IMAGES):
        assert bag.add(f"{n}.png", png(1, 1, (n % 256, n // 256, 0))) is not None
    assert bag.add("again.png", png(1, 1, (0, 0, 0))) is not None  # a repeat is no new image
    assert bag.add("one-more.png", png(2, 1)) is None
    (problem,) = bag.problems
    assert problem.code == "media_too_many" and "one-more.png" in problem.message


def qti_item(stem: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p2" identifier="pic-1"
    title="pic" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>A</value></correctResponse>
  </responseDeclaration>
  <itemBody>
    <div>{stem}</div>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <simpleChoice identifier="A">甲 <img src="../images/opt.png" alt="甲图"/></simpleChoice>
      <simpleChoice identifier="B">乙</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p2/rptemplates/match_correct"/>
</assessmentItem>"""


def package(stem: str, files: dict[str, bytes]) -> bytes:
    manifest = """<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M">
  <resources>
    <resource identifier="R1" type="imsqti_item_xmlv2p2" href="items/pic-1.xml"/>
  </resources>
</manifest>"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imsmanifest.xml", manifest)
        archive.writestr("items/pic-1.xml", qti_item(stem))
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_qti_package_s_images_become_media_references_with_their_bytes() -> None:
    stem_image, option_image = png(4, 3), png(2, 2, (0, 0, 200))
    data = package(
        '<p>看 <strong>图</strong>：<img src="../images/stem.png" alt="题图"/></p>',
        {"images/stem.png": stem_image, "images/opt.png": option_image},
    )
    result = qti.parse(data, source="pkg.zip")
    assert [p for p in result.problems if p.severity == "error"] == []
    (parsed,) = result.items
    stem_sha = hashlib.sha256(stem_image).hexdigest()
    option_sha = hashlib.sha256(option_image).hexdigest()
    assert f'src="media:{stem_sha}"' in parsed.item.stem
    body = parsed.item.body
    assert isinstance(body, SingleChoice)
    assert f'src="media:{option_sha}"' in body.options[0].text
    assert {(m.sha256, m.name, m.data) for m in result.media} == {
        (stem_sha, "images/stem.png", stem_image),
        (option_sha, "images/opt.png", option_image),
    }


def test_a_qti_image_missing_from_the_package_is_a_warning_and_one_not_an_image_an_error() -> None:
    missing = qti.parse(package('<img src="nowhere.png"/>', {"images/opt.png": png()}))
    assert [p.code for p in missing.problems] == ["media_missing"]
    assert "nowhere.png" in missing.problems[0].message
    wrong = lint_file(
        package('<img src="../images/opt.png"/>', {"images/opt.png": b"GIF-not really"}),
        source="pkg.zip",
        format="qti",
    )
    assert not wrong.ok
    assert any(p.code == "media_type" and "images/opt.png" in p.message for p in wrong.problems)


def test_external_and_absolute_sources_are_left_alone_for_the_sanitizer() -> None:
    result = qti.parse(
        package(
            '<img src="https://evil.example/x.png"/><img src="/etc/passwd"/>',
            {"images/opt.png": png()},
        )
    )
    stem = result.items[0].item.stem
    assert "https://evil.example/x.png" in stem and "/etc/passwd" in stem
    assert len(result.media) == 1  # the option's image only


# ------------------------------------------------------------------ images in exports


def _item_with_images() -> tuple[Item, dict[str, media.Media]]:
    """A choice item whose stem and one option show an image each, and those images by
    hash."""
    first, second = png(rgb=(10, 20, 30)), png(rgb=(40, 50, 60))
    images = {
        hashlib.sha256(data).hexdigest(): media.Media(
            sha256=hashlib.sha256(data).hexdigest(), mime="image/png", name=name, data=data
        )
        for name, data in (("a.png", first), ("b.png", second))
    }
    a, b = images
    item = Item(
        key="img-1",
        stem=f"看图作答：![电路](media:{a})",
        body=SingleChoice(
            options=(
                Option(id="A", text=f"![乙](media:{b})", fraction=1.0),
                Option(id="B", text="甲", fraction=0.0),
            )
        ),
    )
    return item, images


@pytest.mark.parametrize("fmt", sorted(exporting.CARRIES_IMAGES))
def test_moodle_and_qti_exports_carry_the_images_and_read_back_the_same(fmt: str) -> None:
    item, images = _item_with_images()
    result = exporting.export([item], fmt, images)
    assert result.warnings == ()
    parsed = formats.get(fmt).parse(result.data)
    assert {m.sha256: m.data for m in parsed.media} == {s: m.data for s, m in images.items()}
    assert parsed.items[0].item.stem == item.stem
    assert parsed.items[0].item.body == item.body


@pytest.mark.parametrize("fmt", sorted(set(formats.FORMAT_NAMES) - exporting.CARRIES_IMAGES))
def test_a_format_that_cannot_carry_images_reports_them_lost(fmt: str) -> None:
    item, images = _item_with_images()
    result = exporting.export([item], fmt, images)
    lost = [w for w in result.warnings if w.item_key == "img-1"]
    assert len(lost) == 1, result.warnings
    assert "images" in lost[0].message and "图片" in lost[0].message_zh


def test_an_image_whose_bytes_the_export_was_not_given_is_reported_lost() -> None:
    item, _ = _item_with_images()
    (warning,) = exporting.export([item], "moodle", {}).warnings
    assert warning.code == "export-loss" and "images" in warning.message
