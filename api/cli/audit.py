"""``examengine audit …``: check the integrity log, sign a checkpoint, export evidence,
print the published keys (docs/decisions/0027).

``audit verify`` with no file checks the database's chains and checkpoints and names
the first broken link of each broken chain; with a file it checks an evidence bundle or
a certificate PDF offline, with no database. Exit status: 0 every check held, 1 a check
failed (the record was changed), 2 the command could not run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import msgspec
from sqlmodel import select

from api.cli.support import fail, now, settings, unit_of_work
from api.services import keys as deployment_keys
from api.services.evidence import audit as evidence
from api.services.evidence import checkpoints
from api.store.tables import User
from examengine import integrity, signing

BROKEN = 1


def _ms() -> int:
    return int(now().timestamp() * 1000)


def _trusted(keys_file: Path | None) -> dict[str, signing.VerifyKey] | None:
    if keys_file is None:
        return None
    try:
        return signing.keys_of(json.loads(keys_file.read_bytes()))
    except OSError as exc:
        fail(f"{keys_file}: {exc.strerror}")
    except ValueError as exc:
        fail(f"{keys_file}: not a JSON Web Key Set ({exc})")


@click.group("audit")
def audit() -> None:
    """The tamper-evident integrity log: verify, checkpoint, export, keys."""


@audit.command("verify")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--learner", metavar="LOGIN", help="Check this learner's chain only.")
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The trusted key set (/.well-known/examengine-keys.json saved to a file).",
)
def verify(file: Path | None, learner: str | None, keys_file: Path | None) -> None:
    """Check the log in the database, or FILE (an evidence bundle or a certificate PDF)
    offline. Names the first broken link; exits 1 when anything was changed."""
    trusted = _trusted(keys_file)
    if file is not None:
        _verify_file(file, trusted)
        return
    published = trusted or deployment_keys.published(settings().records)
    with unit_of_work() as session:
        learner_id = None
        if learner is not None:
            row = session.exec(select(User).where(User.login == learner)).first()
            if row is None or row.id is None:
                fail(f"--learner {learner}: no such account")
            learner_id = row.id
        report = evidence.verify(session, published, learner=learner_id)
    click.echo(
        f"{report.chains} chains, {report.entries} entries, {report.checkpoints} checkpoints"
    )
    for finding in report.findings:
        click.echo(f"BROKEN {finding.where}: {finding.detail} [{finding.problem}]")
    if not report.ok:
        sys.exit(BROKEN)
    click.echo("OK: every link holds")


def _verify_file(file: Path, trusted: dict[str, signing.VerifyKey] | None) -> None:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    if raw.startswith(b"%PDF"):
        from api.services import certificates  # noqa: PLC0415 (reportlab and pypdf: only here)

        keys = trusted or deployment_keys.published(settings().records)
        problems = certificates.check_pdf(raw, keys)
        for problem in problems:
            click.echo(f"BROKEN {file}: {problem}")
        if problems:
            sys.exit(BROKEN)
        click.echo(f"OK: {file} is a genuine certificate, signed and printed as signed")
        return
    try:
        document = integrity.decode_bundle(raw)
    except ValueError as exc:
        fail(f"{file}: {exc}")
    if trusted is None:
        trusted = signing.keys_of(document.bundle.keys)
        click.echo(
            f"note: trusting the key set inside the file ({', '.join(sorted(trusted))}); "
            "compare it with the deployment's /.well-known/examengine-keys.json, or pass --keys"
        )
    report = integrity.verify_bundle(document, trusted)
    person = document.bundle.person
    click.echo(
        f"evidence of {person.get('name', '?')} ({person.get('id', '?')}) for "
        f"{json.dumps(document.bundle.subject, ensure_ascii=False)}: {report.entries} entries, "
        f"signed by checkpoint through entry {report.signed_through}"
    )
    for problem in report.problems:
        click.echo(f"BROKEN {problem}")
    if report.problems:
        sys.exit(BROKEN)
    click.echo("OK: every link holds")


@audit.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of every chain that grew since the last one (the app does this
    every EXAMENGINE_CHECKPOINT_INTERVAL_MS)."""
    key = deployment_keys.current(settings().records)
    with unit_of_work() as session:
        row = checkpoints.make_checkpoint(session, key, now=_ms())
        message = (
            f"checkpoint {row.id}: {row.leaves} chain heads signed by {row.kid}"
            if row is not None
            else "nothing to sign: no chain grew since the last checkpoint"
        )
    click.echo(message)


@audit.command("export")
@click.option("--attempt", metavar="ID", help="The evidence of this attempt.")
@click.option("--learner", metavar="LOGIN", help="The evidence of this learner.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(attempt: str | None, learner: str | None, output: Path) -> None:
    """Write a signed evidence bundle (one learner's whole chain) to OUTPUT."""
    if (attempt is None) == (learner is None):
        fail("give one of --attempt ID or --learner LOGIN")
    records = settings().records
    key, published = deployment_keys.current(records), deployment_keys.published(records)
    with unit_of_work() as session:
        try:
            if attempt is not None:
                document = evidence.attempt_bundle(
                    session, key, published, attempt_id=attempt, now=_ms()
                )
            else:
                row = session.exec(select(User).where(User.login == learner)).first()
                if row is None or row.id is None:
                    fail(f"--learner {learner}: no such account")
                document = evidence.bundle(
                    session,
                    key,
                    published,
                    learner_id=row.id,
                    subject={"kind": "learner"},
                    now=_ms(),
                )
        except evidence.SubjectNotFoundError as exc:
            fail(f"no such {exc.what}")
    output.write_bytes(msgspec.json.encode(document))
    click.echo(f"{output}: {len(document.bundle.entries)} entries, signed by {document.signed.kid}")


@audit.command("keys")
def keys() -> None:
    """Print the published key set (JSON Web Key Set) of this deployment."""
    click.echo(json.dumps(deployment_keys.key_set(settings().records), indent=2))
