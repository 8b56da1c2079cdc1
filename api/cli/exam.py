"""``examengine exam …`` and ``examengine paper …``: check and publish exam specs, build
and preassemble papers, and audit a stored paper by rebuilding it from its seed.

Every command uses the database named by ``EXAMENGINE_DATABASE_URL`` and, for papers, the
paper secret ``EXAMENGINE_PAPER_SECRET`` (the same as the server's, or the seeds differ).
Bad input ends with one clear message and a non-zero exit status, never a traceback:
exit 1 when a spec has errors or an audited paper differs, 2 when a file cannot be read
or a name is unknown.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import click
from rich.console import Console
from rich.table import Table

from api.cli.support import LANGS, fail, now, progress_bar, settings, unit_of_work
from api.services import attempts, exams
from examengine.blueprint import ExamSpec, SpecProblem
from examengine.equating import PassExplanation
from examengine.errors import EngineError, SpecInvalidError
from itembank.errors import ItembankError


def _secret() -> bytes:
    return settings().security.paper_secret.encode()


def _read_spec(path: Path) -> ExamSpec:
    fmt: Literal["json", "yaml"] = "json" if path.suffix.lower() == ".json" else "yaml"
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    try:
        return exams.decode_spec(data, source=str(path), fmt=fmt)
    except exams.SpecUnreadableError as exc:
        fail(exc.message)


def _print_problems(problems: Sequence[SpecProblem], lang: str) -> int:
    """Print ``where: message`` per problem (warnings marked); returns the errors."""
    for problem in problems:
        message = problem.message_zh if lang == "zh" else problem.message
        mark = "" if problem.severity == "error" else "warning: "
        click.echo(f"{problem.where}: {mark}{message}")
    return sum(1 for p in problems if p.severity == "error")


def _read_lines(path: Path) -> list[str]:
    """The non-empty lines of a text file (UTF-8, a BOM allowed), stripped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")
    return [line.strip() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------- exam


@click.group("exam")
def exam() -> None:
    """Exam specs: validate, publish, list."""


@exam.command("validate")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def validate(spec_file: Path, lang: str) -> None:
    """Check SPEC (YAML or JSON) against its bank version: every problem as
    ``where: message``. Exits 1 when the spec has an error, 2 when it cannot be read."""
    spec = _read_spec(spec_file)
    with unit_of_work() as session:
        problems = exams.validate_spec(session, spec)
    errors = _print_problems(problems, lang)
    warnings = len(problems) - errors
    click.echo(f"{spec_file}: {errors} errors, {warnings} warnings", err=True)
    sys.exit(1 if errors else 0)


@exam.command("publish")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def publish(spec_file: Path, lang: str) -> None:
    """Save SPEC as a new version of its exam and publish it (it never changes again)."""
    spec = _read_spec(spec_file)
    try:
        with unit_of_work() as session:
            saved = exams.save_spec(session, spec, now=now())
            info = exams.publish(session, exam=spec.key, version=saved.version.version, now=now())
    except SpecInvalidError as exc:
        _print_problems(exc.problems, lang)
        fail(exc.message_zh if lang == "zh" else exc.message, 1)
    except (EngineError, ItembankError) as exc:
        fail(exc.message_zh if lang == "zh" else exc.message)
    _print_problems(saved.warnings, lang)
    word = "unchanged," if saved.unchanged else "saved and"
    click.echo(f"exam {info.exam} v{info.version} {word} published ({info.length} items per paper)")


@exam.command("list")
def list_() -> None:
    """Every exam with its latest version."""
    table = Table("exam", "version", "state", "title", "bank", "items", "created")
    with unit_of_work() as session:
        for info in exams.list_exams(session):
            table.add_row(
                info.exam,
                str(info.version),
                info.state,
                info.title,
                f"{info.bank} v{info.bank_version}",
                str(info.length),
                info.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    Console().print(table)


@exam.command("enroll")
@click.option("--exam", "exam_key", required=True, help="The exam's key.")
@click.option(
    "--learners", "learners_file", required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file with one learner per line: login, resident ID or phone.",
)  # fmt: skip
@click.option(
    "--study-met", is_flag=True,
    help="Mark the study requirement met (learners who studied elsewhere; load tests).",
)  # fmt: skip
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def enroll(exam_key: str, learners_file: Path, study_met: bool, lang: str) -> None:
    """Enroll many learners for an exam at once (all or nothing)."""
    logins = _read_lines(learners_file)
    try:
        with unit_of_work() as session:
            outcome = attempts.enroll_learners(
                session, exam=exam_key, logins=logins, study_met=study_met,
                now=int(now().timestamp() * 1000),
            )  # fmt: skip
    except attempts.LearnersNotFoundError as exc:
        for line, login in exc.unknown:
            message = f"没有账号 {login!r}" if lang == "zh" else f"no account {login!r}"
            click.echo(f"{learners_file}:{line}: {message}", err=True)
        fail(exc.message_zh if lang == "zh" else exc.message, 1)
    except exams.ExamNotFoundError as exc:
        fail(exc.message_zh if lang == "zh" else exc.message)
    click.echo(
        f"{exam_key}: {outcome.enrolled} learners enrolled, {outcome.already} already enrolled"
        + (" (study requirement met)" if study_met else "")
    )


@exam.command("preassemble")
@click.argument("exam_key", metavar="EXAM")
@click.option(
    "--learners", "learners_file", default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file with one enrolled learner per line (login, resident ID or phone); "
    "default: every learner enrolled for the exam.",
)  # fmt: skip
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def exam_preassemble(exam_key: str, learners_file: Path | None, lang: str) -> None:
    """Store each enrolled learner's next formal paper before the exam opens, so that
    starting at the peak is a cheap state change (the paper is the one the start would
    build: same seed)."""
    logins = _read_lines(learners_file) if learners_file is not None else None
    with progress_bar() as progress:
        try:
            with unit_of_work() as session:
                outcome = attempts.preassemble(
                    session, exam=exam_key, secret=_secret(), logins=logins,
                    now=int(now().timestamp() * 1000), progress=progress,
                )  # fmt: skip
        except attempts.LearnersNotFoundError as exc:
            progress.stop()
            for line, login in exc.unknown:
                message = (
                    f"{login!r} 不是本考试的考生" if lang == "zh"
                    else f"{login!r} is not a learner enrolled for {exam_key}"
                )  # fmt: skip
                click.echo(f"{learners_file}:{line}: {message}", err=True)
            fail(
                f"{len(exc.unknown)} 行不是本考试的考生" if lang == "zh"
                else f"{len(exc.unknown)} line(s) name no learner enrolled for {exam_key}",
                1,
            )  # fmt: skip
        except (EngineError, ItembankError) as exc:
            progress.stop()
            fail(exc.message_zh if lang == "zh" else exc.message)
    click.echo(
        f"{outcome.exam} v{outcome.version}: next papers of {outcome.learners} learner(s) "
        f"stored ({outcome.built} built, {outcome.existing} already stored)"
    )


# --------------------------------------------------------------------------- paper


@click.group("paper")
def paper() -> None:
    """Learners' papers: build, preassemble, show (the audit)."""


_exam_option = click.option("--exam", "exam_key", required=True, help="The exam's key.")
_version_option = click.option(
    "--version", type=click.IntRange(min=1), default=None,
    help="The exam version (default: the latest published).",
)  # fmt: skip
_attempt_option = click.option(
    "--attempt", type=click.IntRange(min=1), default=1, show_default=True
)


@paper.command("build")
@_exam_option
@click.option("--learner", required=True, help="The learner's id.")
@_attempt_option
@_version_option
def build(exam_key: str, learner: str, attempt: int, version: int | None) -> None:
    """Build and store a learner's paper (or show that it is stored already)."""
    try:
        with unit_of_work() as session:
            record = exams.build_or_get_paper(
                session, exam=exam_key, learner=learner, attempt=attempt, secret=_secret(),
                now=now(), version=version,
            )  # fmt: skip
    except (EngineError, ItembankError) as exc:
        fail(exc.message)
    word = "built and stored" if record.created else "already stored"
    click.echo(
        f"paper of {record.learner} for {record.exam} v{record.version} attempt "
        f"{record.attempt}: {word}; seed {record.paper.seed}, {len(record.paper.items)} items, "
        f"mean difficulty {record.paper.difficulty:+.3f}"
    )


@paper.command("preassemble")
@_exam_option
@click.option(
    "--learners", "learners_file", required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file with one learner id per line.",
)  # fmt: skip
@_attempt_option
@_version_option
def preassemble(exam_key: str, learners_file: Path, attempt: int, version: int | None) -> None:
    """Build and store the missing papers of many learners at once (before a peak)."""
    learners = _read_lines(learners_file)
    with progress_bar() as progress:
        try:
            with unit_of_work() as session:
                outcome = exams.preassemble(
                    session, exam=exam_key, learners=learners, attempt=attempt,
                    secret=_secret(), now=now(), version=version, progress=progress,
                )  # fmt: skip
        except (EngineError, ItembankError) as exc:
            progress.stop()
            fail(exc.message)
    click.echo(
        f"{outcome.exam} v{outcome.version} attempt {outcome.attempt}: "
        f"{outcome.built} papers built, {outcome.existing} already stored"
    )


@paper.command("show")
@_exam_option
@click.option("--learner", required=True, help="The learner's id.")
@click.option("--attempt", type=click.IntRange(min=1), required=True)
@_version_option
def show(exam_key: str, learner: str, attempt: int, version: int | None) -> None:
    """Rebuild a learner's paper from its seed and compare it with the stored one.

    Exits 0 when they are identical (or nothing is stored), 1 when they differ.
    """
    try:
        with unit_of_work() as session:
            audit = exams.show_paper(
                session, exam=exam_key, learner=learner, attempt=attempt, secret=_secret(),
                version=version,
            )  # fmt: skip
    except (EngineError, ItembankError) as exc:
        fail(exc.message)
    click.echo(f"exam {audit.exam} v{audit.version}, learner {audit.learner}, attempt {attempt}")
    click.echo(f"seed {audit.seed}")
    for position, item in enumerate(audit.rebuilt.items, start=1):
        section = audit.sections[item.section] if item.section < len(audit.sections) else ""
        order = " ".join(item.order) if item.order else "-"
        click.echo(f"{position:3}  {item.key:<24} {section}  {order}")
    click.echo(f"mean difficulty {audit.rebuilt.difficulty:+.3f} (logit)")
    if audit.rebuilt.repeats:
        click.echo(f"items repeated from earlier attempts: {audit.rebuilt.repeats}")
    if audit.pass_explanation is not None:
        _print_pass_explanation(audit.pass_explanation)
    if audit.status == "none":
        click.echo("no stored paper")
    elif audit.identical:
        click.echo("identical to the stored paper")
    else:
        click.echo(f"DIFFERS from the stored paper: {'; '.join(audit.differences)}")
        sys.exit(1)


def _print_pass_explanation(how: PassExplanation) -> None:
    """How the paper's pass mark was computed: θ_c and where it came from, each item's
    expected points at θ_c, and the points needed under each standard."""
    where = (
        "the spec's theta_cut"
        if how.derived_from == "theta_cut"
        else f"where the expected paper ({how.reference_max:g} points) scores pass_mark "
        f"{how.pass_mark:g} of it ({how.reference_cut:g} points)"
    )
    click.echo(
        f"pass standard {how.standard}, calibration {how.calibration}: "
        f"θ_c {how.theta_cut:+.3f} ({where})"
    )
    for item in how.items:
        mark = " provisional" if item.provisional else ""
        click.echo(
            f"     {item.key:<24} a {item.a:.2f} b {item.b:+.2f}  P(θ_c) {item.probability:.3f}"
            f" × {item.points:g} = {item.expected:.3f}{mark}"
        )
    click.echo(
        f"expected points at θ_c {how.expected_points:.3f} of {how.max_score:g} → pass score "
        f"{how.pass_score:g} (rounded up to 0.01); the raw standard would ask "
        f"{how.raw_pass_score:g}"
    )
