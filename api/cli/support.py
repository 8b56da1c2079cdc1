"""What every ``examengine`` subcommand shares: settings, a unit of work, the time, one-line
failures, the progress bar of long jobs and the message-language option."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from api.services import certificates
from api.settings import Settings
from api.store.db import standalone_transaction

LANGS = click.Choice(["en", "zh"])


def settings() -> Settings:
    return Settings.from_env(os.environ)


def unit_of_work(configured: Settings | None = None) -> AbstractContextManager[Session]:
    """One transaction on the configured database, carrying the records settings (a
    certificate it makes due is signed and issued in it)."""
    chosen = configured or settings()
    return standalone_transaction(chosen.database, info=certificates.session_info(chosen.records))


def now() -> datetime:
    return datetime.now(UTC)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit ``code`` (2: the command could not do its job)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class StageProgress:
    """A progress callback, ``progress(stage, done, total)``, drawing a bar per stage."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done)

    def stop(self) -> None:
        """Take the bar off the screen (before printing problems)."""
        self._bar.stop()


@contextmanager
def progress_bar() -> Iterator[StageProgress]:
    """Progress bars on stderr for a long job; gone when it ends."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with Progress(
        *columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True
    ) as bar:
        yield StageProgress(bar)
