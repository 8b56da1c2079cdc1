"""``examengine bank …``: lint, import, publish, export, diff, analyse and calibrate
item banks.

``lint`` and ``convert`` work on files alone; the others use the database named by
``EXAMENGINE_DATABASE_URL`` (the embedded SQLite file by default). Bad input ends with
one clear message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from api.cli.support import LANGS, fail, now, progress_bar, settings, unit_of_work
from api.services import banks
from api.services import calibration as calibrations
from itembank import exporting, formats
from itembank.calibration import Link
from itembank.errors import ImportRefusedError, ItembankError
from itembank.lint import lint_file
from itembank.problems import SEVERITY_ZH, Problem


def _print_problems(problems: tuple[Problem, ...], lang: str) -> None:
    for problem in problems:
        click.echo(problem.format(lang="zh" if lang == "zh" else "en"))


def _print_export_warnings(warnings: tuple[Problem, ...], lang: str) -> None:
    """What the format could not carry, one line per item, on stderr."""
    for warning in warnings:
        if lang == "zh":
            line = f"{SEVERITY_ZH[warning.severity]} {warning.code} {warning.message_zh}"
        else:
            line = f"{warning.severity} {warning.code} {warning.message}"
        click.echo(line, err=True)


@click.group("bank")
def bank() -> None:
    """Item banks: lint, import, publish, export, diff, stats, calibrate."""


@bank.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(formats.FORMAT_NAMES), default=None)
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def lint(files: tuple[Path, ...], fmt: str | None, lang: str) -> None:
    """Report every problem as file:line:col: severity code message.

    Exits 1 when any file has an error, 2 when a file cannot be read at all.
    """
    errors = 0
    for path in files:
        try:
            report = lint_file(path.read_bytes(), source=str(path), format=fmt)
        except OSError as exc:
            fail(f"{path}: {exc.strerror}")
        except formats.UnknownFormatError as exc:
            fail(str(exc))
        _print_problems(report.problems, lang)
        errors += report.errors
        click.echo(report.summary(str(path), lang=lang), err=True)
    sys.exit(1 if errors else 0)


@bank.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--bank", "bank_name", required=True, help="The bank to add a version to.")
@click.option("--format", "fmt", type=click.Choice(formats.FORMAT_NAMES), default=None)
@click.option("--publish", is_flag=True, help="Publish the new version at once.")
@click.option("--lang", type=LANGS, default="en")
def import_(file: Path, bank_name: str, fmt: str | None, publish: bool, lang: str) -> None:
    """Lint FILE and store it as a new draft version (all or nothing)."""
    with progress_bar() as progress:
        try:
            with unit_of_work() as session:
                outcome = banks.import_file(
                    session,
                    data=file.read_bytes(),
                    source=str(file),
                    bank=bank_name,
                    fmt=fmt,
                    now=now(),
                    progress=progress,
                )
                info = outcome.version
                if publish:
                    info = banks.publish(session, bank=bank_name, version=info.version, now=now())
        except ImportRefusedError as exc:
            progress.stop()
            _print_problems(exc.problems, lang)
            fail(exc.message_zh if lang == "zh" else exc.message)
        except (ItembankError, formats.UnknownFormatError) as exc:
            fail(str(exc))
    _print_problems(tuple(p for p in outcome.report.problems if p.severity == "warning"), lang)
    count = len(outcome.report.items)
    if lang == "zh":
        state = _STATE_ZH.get(info.state, info.state)
        done = "与该版本相同，未创建新版本" if outcome.unchanged else "已导入为"
        click.echo(f"{file}：{count} 道试题{done}：{bank_name} 第 {info.version} 版（{state}）")
        return
    word = "unchanged (same items as)" if outcome.unchanged else "imported as"
    items = "1 item" if count == 1 else f"{count} items"
    click.echo(f"{file}: {items} {word} {bank_name} v{info.version} ({info.state})")


_STATE_ZH = {"draft": "草稿", "published": "已发布"}


@bank.command("publish")
@click.option("--bank", "bank_name", required=True)
@click.option("--version", type=int, required=True)
def publish(bank_name: str, version: int) -> None:
    """Freeze a draft version: it never changes again."""
    try:
        with unit_of_work() as session:
            info = banks.publish(session, bank=bank_name, version=version, now=now())
    except ItembankError as exc:
        fail(str(exc))
    click.echo(f"{bank_name} v{info.version} published")


@bank.command("list")
def list_() -> None:
    """Every bank with its latest version."""
    table = Table("bank", "version", "state", "items", "source", "created")
    with unit_of_work() as session:
        for info in banks.list_banks(session):
            table.add_row(
                info.bank,
                str(info.version),
                info.state,
                str(info.item_count),
                f"{info.source_format} {info.source_name}",
                info.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    Console().print(table)


@bank.command("export")
@click.option("--bank", "bank_name", required=True)
@click.option("--version", type=int, default=None, help="Default: the latest.")
@click.option("--format", "fmt", type=click.Choice(formats.FORMAT_NAMES), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lang", type=LANGS, default="en", help="Language of the warnings.")
def export(bank_name: str, version: int | None, fmt: str, output: Path, lang: str) -> None:
    """Write a version's items in any format.

    Every field the format cannot carry is printed as a warning naming the item and the
    field (the file is still written).
    """
    try:
        with unit_of_work() as session:
            result = banks.export_report(session, bank=bank_name, fmt=fmt, version=version)
    except ItembankError as exc:
        fail(str(exc))
    _print_export_warnings(result.warnings, lang)
    output.write_bytes(result.data)
    click.echo(f"wrote {output} ({len(result.data)} bytes)")


@bank.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "src_fmt", type=click.Choice(formats.FORMAT_NAMES), default=None)
@click.option("--to", "dst_fmt", type=click.Choice(formats.FORMAT_NAMES), default=None)
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def convert(
    source: Path, target: Path, src_fmt: str | None, dst_fmt: str | None, lang: str
) -> None:
    """Convert a bank file to another format (refused while it has errors).

    What the target format cannot carry is printed as warnings, item by item.
    """
    try:
        report = lint_file(source.read_bytes(), source=str(source), format=src_fmt)
        out_fmt = dst_fmt or formats.detect(str(target))
    except formats.UnknownFormatError as exc:
        fail(str(exc))
    if not report.ok:
        _print_problems(report.problems, lang)
        if lang == "zh":
            fail(f"{source}：{report.errors} 个错误，未写入任何文件")
        errors = "1 error" if report.errors == 1 else f"{report.errors} errors"
        fail(f"{source}: {errors}; nothing was written")
    images = {m.sha256: m for m in report.media}
    result = exporting.export([p.item for p in report.items], out_fmt, images)
    _print_export_warnings(result.warnings, lang)
    target.write_bytes(result.data)
    click.echo(f"wrote {target}: {len(report.items)} items as {out_fmt}")


@bank.command("diff")
@click.option("--bank", "bank_name", required=True)
@click.argument("old", type=int)
@click.argument("new", type=int)
def diff(bank_name: str, old: int, new: int) -> None:
    """What version NEW adds (+), removes (-) and changes (~) relative to OLD."""
    try:
        with unit_of_work() as session:
            result = banks.diff_versions(session, bank=bank_name, old=old, new=new)
    except ItembankError as exc:
        fail(str(exc))
    for line in result.lines():
        click.echo(line)
    if result.empty:
        click.echo(f"v{old} and v{new} hold the same items", err=True)


@bank.command("stats")
@click.option("--bank", "bank_name", required=True)
@click.option("--version", type=int, default=None)
def stats(bank_name: str, version: int | None) -> None:
    """Item analysis from stored responses: facility, discrimination, distractors, flags."""
    try:
        with unit_of_work() as session:
            result = banks.item_analysis(session, bank=bank_name, version=version)
    except ItembankError as exc:
        fail(str(exc))
    table = Table("item", "n", "facility", "r_pb", "D(27%)", "options chosen", "flags")
    for s in result.item_stats:
        table.add_row(
            s.key,
            str(s.responses),
            _fmt(s.facility),
            _fmt(s.point_biserial),
            _fmt(s.discrimination_27),
            " ".join(str(c) for c in s.option_counts),
            ", ".join(s.flags),
        )
    console = Console()
    console.print(table)
    console.print(
        f"learners {result.learners}  items {result.items}  mean {_fmt(result.mean_score)}  "
        f"sd {_fmt(result.sd_score)}  alpha {_fmt(result.alpha)}  KR-20 {_fmt(result.kr20)}"
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@bank.command("calibrate")
@click.argument("bank_name", metavar="BANK")
@click.option("--version", type=click.IntRange(1), default=None, help="Default: the latest.")
@click.option("--model", type=click.Choice(calibrations.MODELS), default="2pl", show_default=True)
def calibrate(bank_name: str, version: int | None, model: str) -> None:
    """Fit the IRT model to the stored formal responses of a bank version and store the
    calibration as the bank's next number (linked to its latest through common items).

    Items with fewer responses than EXAMENGINE_CALIBRATION_MIN_RESPONSES stay
    provisional, on their authored difficulty.
    """
    configured = settings()
    try:
        with unit_of_work(configured) as session:
            record = calibrations.calibrate(
                session,
                bank=bank_name,
                version=version,
                model=model,
                actor=None,
                now=now(),
                min_responses=configured.exam.calibration_min_responses,
            )
    except ItembankError as exc:
        fail(str(exc))
    _print_calibration(record)


@bank.command("calibrations")
@click.argument("bank_name", metavar="BANK")
def calibrations_(bank_name: str) -> None:
    """Every calibration of a bank, newest first."""
    try:
        with unit_of_work() as session:
            found = calibrations.listing(session, bank_name)
    except ItembankError as exc:
        fail(str(exc))
    if not found:
        click.echo(f"{bank_name} has no calibration yet (examengine bank calibrate {bank_name!r})")
        return
    table = Table(
        "no.", "version", "model", "learners", "items", "provisional", "flagged", "link", "created"
    )
    for c in found:
        table.add_row(
            str(c.number),
            str(c.bank_version),
            c.model,
            str(c.learners),
            str(c.items),
            str(c.provisional),
            str(c.flagged),
            _link_text(c.link),
            c.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    _wide().print(table)


def _print_calibration(record: calibrations.CalibrationRecord) -> None:
    """The calibration as a table of items, then what a reader must know."""
    console = _wide()
    table = Table(
        "item", "n", "a", "b", "se(b)", "p", "infit", "outfit", "drift b", "status", "flags",
        title=f"{record.bank} calibration {record.number} (v{record.bank_version}, {record.model})",
    )  # fmt: skip
    for item in record.items:
        status = (
            "provisional"
            if item.provisional
            else ("anchor" if item.anchor else ("carried" if "carried" in item.flags else ""))
        )
        table.add_row(
            item.key,
            str(item.responses),
            f"{item.a:.2f}",
            f"{item.b:+.2f}",
            _fmt(item.se_b, 2),
            _fmt(item.p_value, 2),
            _fmt(item.infit, 2),
            _fmt(item.outfit, 2),
            "–" if item.drift_b is None else f"{item.drift_b:+.2f}",
            status,
            ", ".join(item.flags),
        )
    console.print(table)
    provisional = sum(1 for i in record.items if i.provisional)
    carried = sum(1 for i in record.items if "carried" in i.flags)
    misfits = [i.key for i in record.items if "misfit" in i.flags]
    drifted = [i.key for i in record.items if "drift" in i.flags]
    state = "converged" if record.converged else "NOT converged"
    console.print(
        f"learners {record.learners}  items {len(record.items)}  provisional {provisional} "
        f"(fewer than {record.min_responses} responses)  carried {carried} (kept from the "
        f"calibration before)  {state} after {record.iterations} "
        f"iterations  fitter {record.fitter}"
    )
    console.print(f"link: {_link_text(record.link)}")
    console.print(f"misfitting ({len(misfits)}): {', '.join(misfits) or 'none'}")
    console.print(f"drifted ({len(drifted)}): {', '.join(drifted) or 'none'}")
    for note in record.notes:
        console.print(f"note: {note}")


def _wide() -> Console:
    """A console at least 120 columns wide (a pipe is 80): the tables stay one line a row."""
    return Console(width=max(Console().width, 120))


def _link_text(link: Link) -> str:
    if link.method == "none":
        return "none"
    return (
        f"{link.method} to calibration {link.previous} over {link.anchors} anchors "
        f"(A {link.A:.3f}, B {link.B:+.3f})"
    )
