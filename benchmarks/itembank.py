"""Item-bank benchmarks: lint + import of a generated 50,000-item bank, and item analysis
of 100,000 learners × 100 items, each beside a baseline, in one run.

    .venv/bin/python -m benchmarks.itembank [--items 50000] [--learners 100000]
    .venv/bin/python -m benchmarks.itembank --quick      # tiny sizes, seconds (CI)

Import: for each format (native JSON and YAML, GIFT, Moodle XML, Excel), a fresh process
reads the file, lints it and stores it in a new SQLite database through the real service
(``api.services.banks.import_file``); we report wall seconds per stage and the process's
peak RSS. The baseline stores the same items one ORM object at a time (``session.add`` per
row), the way a first version of a service usually does.

Item analysis: ``itembank.analysis.analyse`` against the baseline of a textbook per-item
loop (masked arrays, ``np.corrcoef`` per item). Medians of three runs, and the ratio.

``--quick``: 200 items and 1,000 learners, every format and both baselines, in seconds
(most of it is starting the six import processes); the figures mean nothing.

Nothing here is a test: it prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from queue import Empty
from typing import TypedDict

import msgspec
import numpy as np
from sqlmodel import Session

from api.services import banks
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Bank, BankItem, BankVersion
from benchmarks import common
from itembank import formats
from itembank.analysis import analyse
from itembank.formats import native
from itembank.lint import lint_file
from itembank.model import (
    AcceptedText,
    Body,
    Difficulty,
    FillBlank,
    Item,
    MultipleChoice,
    Option,
    SingleChoice,
    TrueFalse,
    option_id,
)

WORDS = [
    "数字",
    "经济",
    "发展",
    "战略",
    "安全",
    "法律",
    "伦理",
    "创新",
    "技术",
    "管理",
    "政策",
    "人才",
    "教育",
    "医疗",
    "工程",
    "农业",
    "数据",
    "平台",
    "治理",
    "服务",
    "质量",
    "标准",
    "绿色",
    "低碳",
    "能源",
    "交通",
    "城市",
    "乡村",
    "文化",
    "旅游",
    "金融",
    "风险",
]
TOPICS = (
    "政策法规",
    "数字经济",
    "职业道德",
    "信息安全",
    "心理健康",
    "专业知识",
    "法治建设",
    "创新驱动",
)


def generate_items(n: int, seed: int = 2026) -> list[Item]:
    """``n`` distinct, lint-clean items of four kinds over eight topics."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    picks = rng.integers(0, len(words), size=(n, 10))
    items = []
    for i in range(n):
        phrase = "".join(words[picks[i]])
        stem = f"第{i}题：关于{phrase}的说法，下列哪一项是正确的？"
        topic = TOPICS[i % len(TOPICS)]
        difficulty = Difficulty(band=int(rng.integers(1, 6)))
        kind = i % 4
        body: Body
        if kind == 0:
            body = SingleChoice(
                options=tuple(
                    Option(
                        id=option_id(j),
                        text=f"{phrase[j * 2 : j * 2 + 6]}选项{j}",
                        fraction=1.0 if j == 0 else 0.0,
                    )
                    for j in range(4)
                )
            )
        elif kind == 1:
            body = MultipleChoice(
                options=tuple(
                    Option(
                        id=option_id(j),
                        text=f"{phrase[j : j + 4]}说法{j}",
                        fraction=1.0 if j < 2 else 0.0,
                    )
                    for j in range(5)
                )
            )
        elif kind == 2:
            body = TrueFalse(answer=bool(i % 3))
        else:
            body = FillBlank(
                answers=(AcceptedText(text=phrase[:4]), AcceptedText(text=phrase[2:6]))
            )
        items.append(
            Item(key=f"q{i:06d}", stem=stem, body=body, topic=topic, difficulty=difficulty)
        )
    return items


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ImportResult(TypedDict):
    """What one import process reports."""

    items: int
    errors: int
    lint_s: float
    total_s: float
    peak_mib: float


def _import_in_fresh_process(path: str, naive: bool, queue: Queue[ImportResult]) -> None:
    """Lint + import ``path`` into a new SQLite database; put the timings on ``queue``."""

    db = Path(path).with_suffix(".db")
    url = f"sqlite:///{db}"
    migrate(url)
    engine = make_engine(DatabaseSettings(url=url))
    data = Path(path).read_bytes()
    start = time.perf_counter()
    report = lint_file(data, source=path)
    lint_s = time.perf_counter() - start
    start = time.perf_counter()
    with transaction(session_factory(engine)) as session:
        if naive:  # the baseline: the same lint, then one ORM object per row
            report = lint_file(data, source=path)
            _store_one_row_at_a_time(session, [p.item for p in report.items])
        else:  # the service: lint, refuse on error, bulk insert
            banks.import_file(session, data=data, source=path, bank="b", now=datetime.now(UTC))
    import_s = time.perf_counter() - start
    engine.dispose()
    queue.put(
        ImportResult(
            items=len(report.items),
            errors=report.errors,
            lint_s=lint_s,
            total_s=import_s,
            peak_mib=_peak_mib(),
        )
    )


def _store_one_row_at_a_time(session: Session, items: Sequence[Item]) -> None:
    """The baseline: the same rows, one ORM object per item."""

    bank = Bank(name="baseline")
    session.add(bank)
    session.flush()
    assert bank.id is not None  # assigned by the flush
    version = BankVersion(bank_id=bank.id, version=1, source_format="native", content_hash="")
    session.add(version)
    session.flush()
    assert version.id is not None
    for position, item in enumerate(items):
        session.add(
            BankItem(
                bank_version_id=version.id,
                position=position,
                key=item.key,
                kind=item.kind.value,
                topic=item.topic,
                status=item.status.value,
                data=msgspec.json.encode(item).decode(),
            )
        )


def _run_import(path: Path, naive: bool) -> ImportResult:
    ctx = mp.get_context("spawn")
    queue: Queue[ImportResult] = ctx.Queue()
    process = ctx.Process(target=_import_in_fresh_process, args=(str(path), naive, queue))
    process.start()
    try:
        while True:
            try:
                result = queue.get(timeout=1)
                break
            except Empty:
                if not process.is_alive():  # it failed: its traceback is above
                    raise RuntimeError(
                        f"the import of {path.name} failed (exit code {process.exitcode})"
                    ) from None
    except BaseException:
        process.kill()  # stopped (or failed): not left running on its own
        raise
    finally:
        process.join()
    for db in path.parent.glob(path.stem + ".db*"):
        db.unlink()
    return result


def bench_import(n: int) -> list[tuple[str, ImportResult]]:

    items = generate_items(n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "native JSON": (Path(tmp) / "bank.json", native.dump_json(items)),
            "native YAML": (Path(tmp) / "bank.yaml", formats.get("native").dump(items)),
            "GIFT": (Path(tmp) / "bank.gift", formats.get("gift").dump(items)),
            "Moodle XML": (Path(tmp) / "bank.xml", formats.get("moodle").dump(items)),
            "Excel": (Path(tmp) / "bank.xlsx", formats.get("excel").dump(items)),
        }
        for name, (path, data) in files.items():
            path.write_bytes(data)
            rows.append((name, _run_import(path, naive=False)))
        rows.append(
            (
                "baseline: JSON, one ORM add per row",
                _run_import(files["native JSON"][0], naive=True),
            )
        )
    return rows


def textbook_analysis(x: np.ndarray) -> list[tuple[float, float]]:
    """Facility and item–rest correlation, one item at a time, masked arrays."""
    out = []
    masked = np.ma.masked_invalid(x)
    total = masked.sum(axis=1)
    had = masked.count(axis=1)
    for j in range(x.shape[1]):
        column = masked[:, j]
        keep = ~column.mask
        rest = (total[keep] - column[keep]) / (had[keep] - 1)
        out.append((float(column.mean()), float(np.corrcoef(column[keep].data, rest.data)[0, 1])))
    return out


def bench_analysis(learners: int, items: int = 100, runs: int = 3) -> list[tuple[str, float]]:

    rng = np.random.default_rng(7)
    theta = rng.normal(size=learners)
    b = rng.normal(size=items)
    p = 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))
    x = (rng.random((learners, items)) < p).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan  # papers differ: 20 % of cells not presented
    keys = [f"i{j}" for j in range(items)]

    def timed(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    ours = timed(lambda: analyse(x, keys))
    base = timed(lambda: textbook_analysis(x))
    return [("itembank.analysis.analyse", ours), ("baseline: per-item masked arrays", base)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.itembank", __doc__)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--learners", type=int, default=100_000)
    args = common.parse(parser, argv, {"items": 200, "learners": 1_000})

    print(f"\nLint + import of a generated {args.items:,}-item bank into SQLite (goal ≤ 5 s)\n")
    print(f"{'format':38} {'items':>7} {'lint s':>7} {'import s':>9} {'peak MiB':>9}")
    print(f"{'':38} {'':>7} {'':>7} {'(lint+store)':>9}")
    for name, r in bench_import(args.items):
        print(
            f"{name:38} {r['items']:>7} {r['lint_s']:>7.2f} {r['total_s']:>9.2f} {r['peak_mib']:>9.0f}"
        )
        if r["errors"] or r["items"] != args.items:
            raise RuntimeError(f"{name}: {r['items']} items read, {r['errors']} lint errors")

    print(
        f"\nItem analysis, {args.learners:,} learners × 100 items, 20 % not presented "
        "(goal ≤ 1 s), median of 3\n"
    )
    rows = bench_analysis(args.learners)
    print(f"{'method':38} {'seconds':>8} {'ratio':>7}")
    for name, seconds in rows:
        print(f"{name:38} {seconds:>8.3f} {seconds / rows[0][1]:>6.1f}×")


if __name__ == "__main__":
    main()
