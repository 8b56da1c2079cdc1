"""Calibration benchmark: a 2PL fitted to 100,000 simulated learners × 500 items, each
learner having seen 100 of them (the rest NaN), by our reference EM and by the ``mirt``
library on the same data, in one run (decision 0037).

    .venv/bin/python -m benchmarks.calibration [--learners 100000] [--items 500] [--seen 100]
    .venv/bin/python -m benchmarks.calibration --quick     # tiny sizes, seconds (CI)

The truth: a ~ lognormal(0, 0.3), b ~ N(0, 1) clipped to ±2.5, θ ~ N(0, 1), the 100 items
of each paper drawn at random (seeded: every run sees the same data). Each fitter runs in
a fresh process that loads the response matrix (learners × items, float64, NaN = not
presented: what ``itembank.calibration.calibrate`` is given) and fits it; we report the
fit's wall seconds, the process's peak RSS and the part of it above the loaded matrix,
and the RMSE of a and b against the truth (both fitters identify the scale the same way,
θ ~ N(0, 1), so no linking is needed). ``calibrate()`` end to end adds item fit (infit /
outfit from each learner's posterior without the item) and the per-item records.

Rows: ``reference`` (``ReferenceFitter``: Bock–Aitkin EM, numpy + scipy.sparse, 31 nodes,
standard errors from the item information), ``mirt`` (``MirtFitter``: mirt's Rust EM at
its default 21 nodes, observed-information (Oakes) standard errors), optionally
``mirt41`` (41 nodes, the accuracy of ours) and ``calibrate`` (the whole step with the
reference fitter). ``--fitters`` picks them.

``--quick``: 2,000 learners × 60 items, each saw 20; the figures mean nothing.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks import common
from itembank.calibration import Fitter, MirtFitter, ReferenceFitter, calibrate

Floats = npt.NDArray[np.float64]
FITTERS = ("reference", "mirt", "mirt41", "calibrate")


def simulate(
    learners: int, items: int, seen: int, *, seed: int = 2026
) -> tuple[Floats, Floats, Floats]:
    """(responses, a, b): 0/1 with NaN where the item was not on the learner's paper."""
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0.0, 0.3, items))
    b = np.clip(rng.normal(0.0, 1.0, items), -2.5, 2.5)
    x = np.full((learners, items), np.nan)
    chunk = 10_000
    for start in range(0, learners, chunk):
        n = min(chunk, learners - start)
        theta = rng.normal(0.0, 1.0, n)
        cols = np.argsort(rng.random((n, items)), axis=1)[:, :seen]
        rows = np.repeat(np.arange(n), seen)
        flat = cols.ravel()
        p = 1.0 / (1.0 + np.exp(-a[flat] * (theta[rows] - b[flat])))
        x[start + rows, flat] = (rng.random(p.size) < p).astype(np.float64)
    return x, a, b


def fitter_for(name: str) -> Fitter:
    if name == "mirt":
        return MirtFitter()
    if name == "mirt41":
        return MirtFitter(nodes=41)
    return ReferenceFitter()


def stage(name: str, data: str, out: str) -> None:
    """In a fresh process: load the matrix, fit it, save the estimates and the timings."""
    x = np.load(data)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fitter = fitter_for(name)
    start = time.perf_counter()
    if name == "calibrate":
        calibration = calibrate(x, [f"i{j}" for j in range(x.shape[1])], [0.0] * x.shape[1])
        seconds = time.perf_counter() - start
        a = np.array([item.a for item in calibration.items])
        b = np.array([item.b for item in calibration.items])
        se_b = np.array([item.se_b or np.nan for item in calibration.items])
        iterations, converged, label = (
            calibration.iterations,
            calibration.converged,
            f"calibrate() with {calibration.fitter}",
        )
    else:
        result = fitter.fit(x, "2pl")
        seconds = time.perf_counter() - start
        a, b, se_b = result.a, result.b, result.se_b
        iterations, converged, label = result.iterations, result.converged, fitter.name
    np.savez(
        out,
        a=a,
        b=b,
        se_b=se_b,
        seconds=seconds,
        loaded=loaded,
        iterations=iterations,
        converged=converged,
        label=label,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.calibration", __doc__)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--seen", type=int, default=100)
    parser.add_argument(
        "--fitters",
        default="reference,mirt,calibrate",
        help=f"comma-separated, of: {', '.join(FITTERS)}",
    )
    args = common.parse(parser, argv, {"learners": 2_000, "items": 60, "seen": 20})
    names = args.fitters.split(",")
    if unknown := sorted(set(names) - set(FITTERS)):
        parser.error(f"unknown fitters: {', '.join(unknown)}")
    x, a, b = simulate(args.learners, args.items, args.seen)
    data_mib = x.nbytes / 2**20
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as scratch:
        data = str(Path(scratch) / "x.npy")
        np.save(data, x)
        del x
        for name in names:
            out = str(Path(scratch) / f"{name}.npz")
            _, peak = common.in_fresh_process(stage, name, data, out)
            r = np.load(out)
            rmse_a = float(np.sqrt(np.mean((r["a"] - a) ** 2)))
            rmse_b = float(np.sqrt(np.mean((r["b"] - b) ** 2)))
            rows.append(
                (
                    str(r["label"]),
                    f"{float(r['seconds']):.1f}",
                    f"{peak:,.0f}",
                    f"{peak - float(r['loaded']):,.0f}",
                    f"{rmse_a:.3f}",
                    f"{rmse_b:.3f}",
                    f"{float(np.nanmean(r['se_b'])):.3f}",
                    f"{int(r['iterations'])}{'' if bool(r['converged']) else ' (not converged)'}",
                )
            )
    common.table(
        f"2PL calibration, {args.learners:,} learners × {args.items} items, each saw "
        f"{args.seen} (matrix {data_mib:,.0f} MiB); {common.load()}",
        (
            "fitter",
            "seconds",
            "peak MiB",
            "above the matrix MiB",
            "RMSE a",
            "RMSE b",
            "mean SE b",
            "iterations",
        ),
        rows,
    )


if __name__ == "__main__":
    main()
