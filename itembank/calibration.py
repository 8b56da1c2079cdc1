"""Calibration: Rasch and 2PL item parameters fitted to the graded responses of a bank
version, item fit, and the link of a new calibration to the previous one's scale
(decision 0037).

Input is the response matrix of item analysis (``itembank.analysis``): one row per
learner, one column per item, the fraction of the item earned (0–1), NaN where the item
was not on the learner's paper. Every learner gets a different paper, so the matrix is
sparse by design; a missing cell says nothing about the learner and is left out of the
likelihood (it is *not* scored wrong).

The steps, each documented where it is done:

1. ``dichotomise``: a fraction earned becomes 0/1 (half credit or more counts as right).
2. Items with fewer than ``min_responses`` responses, or whose responses are all right or
   all wrong, are left out of the fit. They keep the previous calibration's parameters
   if it calibrated them; otherwise they are *provisional*: the authored difficulty as
   ``b`` and ``a = 1``. If fewer than ``MIN_ITEMS`` items remain, nothing is fitted,
   with a note saying so.
3. The model is fitted by a ``Fitter`` (the swappable part): marginal maximum
   likelihood with θ ~ N(0, 1) for the 2PL; for the Rasch model a = 1 and the spread of
   θ is estimated instead. ``ReferenceFitter`` is our own Bock–Aitkin EM, the one used;
   ``MirtFitter`` (the mirt library) stands in for it in the benchmark.
4. Item fit: infit and outfit mean squares against each learner's expected score from
   their ability posterior given their other items; an item outside ``FIT_RANGE`` is
   flagged ``misfit``.
5. Linking: with a previous calibration, the items both calibrated are the anchors. The
   Stocking–Lord transformation (θ_previous = A·θ_new + B), started from mean–sigma, puts
   the new parameters on the previous scale; an anchor that drifted (``DRIFT_B`` logits
   and beyond two standard errors) is dropped from the link, the worst first, and the
   link is made again until no anchor drifts.

Nothing here reads or writes anything; the same input gives the same output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from msgspec import Struct

from itembank.irt import ItemParameters

Floats = npt.NDArray[np.float64]
Model = Literal["rasch", "2pl"]

#: An item with fewer responses than this stays provisional (its authored label).
DEFAULT_MIN_RESPONSES = 200
#: Fewer calibratable items than this: nothing is calibrated (a scale needs items).
MIN_ITEMS = 3
#: Fewer anchors than this: the new calibration is not linked (its own scale), with a note.
MIN_ANCHORS = 5
#: Infit/outfit mean squares outside this range flag the item ``misfit`` (Wright &
#: Linacre's range for high-stakes multiple-choice tests).
FIT_RANGE = (0.7, 1.3)
#: A common item has drifted when its linked b moved by more than this (logits) AND by
#: more than two standard errors; the same for a with ``DRIFT_A``.
DRIFT_B = 0.5
DRIFT_A = 0.5
#: Estimates beyond these are flagged ``extreme`` (the data barely hold them).
EXTREME_B = 4.0
EXTREME_A = (0.2, 4.0)
_LOG_A_MIN, _LOG_A_MAX = math.log(0.05), math.log(20.0)


class CalibratedItem(Struct, frozen=True, kw_only=True):
    """One item's calibrated parameters on the bank's (linked) scale and the evidence."""

    key: str
    a: float
    b: float
    se_a: float | None
    se_b: float | None
    responses: int  # learners whose paper held it
    p_value: float | None  # share right after dichotomising
    infit: float | None  # mean squares (1 = perfect fit)
    outfit: float | None
    provisional: bool  # too few responses: b = authored logit, a = 1
    anchor: bool  # used to link this calibration to the previous
    drift_b: float | None = None  # linked b minus previous b (common items)
    drift_a: float | None = None
    #: "misfit" | "drift" | "few_responses" | "not_converged" | "extreme", and "carried":
    #: not calibrated here, a and b kept from the previous calibration (not provisional).
    flags: tuple[str, ...] = ()


class Link(Struct, frozen=True, kw_only=True):
    """How the new scale was put on the previous one: θ_previous = A·θ_new + B, so
    b' = A·b + B and a' = a / A."""

    method: Literal["none", "stocking_lord", "mean_sigma"]
    A: float = 1.0
    B: float = 0.0
    anchors: int = 0
    previous: int | None = None  # the calibration number linked to


class Calibration(Struct, frozen=True, kw_only=True):
    """A calibration of a bank version: one item per key given, in the order given."""

    model: Model
    fitter: str
    learners: int
    items: tuple[CalibratedItem, ...]
    link: Link
    converged: bool
    iterations: int
    log_likelihood: float | None
    min_responses: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FitResult:
    """What a fitter returns, one entry per column of its input (NaN: not estimable)."""

    a: Floats
    b: Floats
    se_a: Floats
    se_b: Floats
    converged: bool
    iterations: int
    log_likelihood: float
    #: The spread of θ the parameters are on (the Rasch model estimates it; 1 for 2PL).
    theta_sd: float = 1.0


class Fitter(Protocol):
    """The swappable model fit. ``x``: learners × items, 0/1 with NaN = not presented;
    every column has responses of both kinds."""

    @property
    def name(self) -> str:
        """What fitted, as the calibration records it (e.g. "mirt 1.2.0 EM")."""
        ...

    def fit(self, x: Floats, model: Model) -> FitResult: ...


# --- dichotomising -------------------------------------------------------------------


def dichotomise(scores: npt.ArrayLike) -> Floats:
    """The fraction of an item earned → right (1) or wrong (0); NaN stays NaN.

    Rule: **half credit or more is right** (the fraction rounded to the nearer of 0 and
    1, a half rounding up). Full-credit-only would count a learner who got three of four
    options of a multiple-response item the same as one who got none, and would make the
    curves' expected points (points × P) understate what learners earn on partial-credit
    items, which the equated pass mark relies on; rounding keeps the share right close to
    the mean fraction earned. Items scored 0/1 are unchanged.
    """
    s = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(s), np.nan, (s >= 0.5).astype(np.float64))


# --- the reference fitter: Bock–Aitkin EM ----------------------------------------------


def _quadrature(nodes: int) -> tuple[Floats, Floats]:
    """Fixed, equally spaced nodes on [−6, 6] with standard-normal weights summing to 1."""
    z = np.linspace(-6.0, 6.0, nodes)
    w = np.exp(-0.5 * z * z)
    return z, w / w.sum()


class _Responses:
    """The sparse response matrix as the EM needs it: presentations and right answers,
    rows = learners (for the E-step) and their transposes (for the expected counts), and
    each presentation's learner, item and answer in row order."""

    def __init__(self, x: Floats) -> None:
        from scipy import sparse  # noqa: PLC0415  (here, not at the top: ~0.6 s per process)

        rows, cols = np.nonzero(~np.isnan(x))
        coded = sparse.csr_matrix(
            (1.0 + (x[rows, cols] > 0.5), (rows, cols)), shape=x.shape
        )  # 1 wrong, 2 right
        del rows, cols
        self.right_entries = coded.data > 1.5
        self.seen = sparse.csr_matrix(
            (np.ones(coded.nnz), coded.indices, coded.indptr), shape=x.shape
        )
        self.right = sparse.csr_matrix(
            (self.right_entries.astype(np.float64), coded.indices.copy(), coded.indptr.copy()),
            shape=x.shape,
        )
        self.right.eliminate_zeros()  # in place: hence the copies above
        self.seen_t = self.seen.T.tocsr()
        self.right_t = self.right.T.tocsr()
        self.learners, self.items = x.shape

    def entries(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32], Floats]:
        """Every presentation's (learner, item, 0/1 answer), sorted by learner."""
        rows = np.repeat(np.arange(self.learners), np.diff(self.seen.indptr))
        return rows, self.seen.indices, self.right_entries.astype(np.float64)


def _posterior(
    data: _Responses, a: Floats, b: Floats, theta: Floats, log_w: Floats
) -> tuple[Floats, float]:
    """Each learner's posterior weights over the nodes, and the marginal log-likelihood."""
    logit = a[:, None] * (theta[None, :] - b[:, None])  # items × nodes
    log_q = -np.logaddexp(0.0, logit)  # log(1 − P)
    ll = data.right @ logit + data.seen @ log_q + log_w[None, :]  # log P = logit + log(1 − P)
    top = ll.max(axis=1, keepdims=True)
    post = np.exp(ll - top)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return post, float(np.sum(top) + np.sum(np.log(total)))


@dataclass(frozen=True)
class ReferenceFitter:
    """Marginal maximum likelihood by Bock–Aitkin EM, vectorised with numpy (our own, the
    reference a library is measured against: decision 0037).

    Fixed quadrature (``nodes`` points on [−6, 6], standard-normal weights). E-step: each
    learner's posterior over the nodes from the items they saw (missing cells are left out
    of the likelihood). M-step: per item, Fisher scoring on (ln a, b) against the expected
    counts, with weak priors ln a ~ N(0, 0.5²) (BILOG's default slope prior) and
    b ~ N(0, 3²), which keep items that only a few learners got right or wrong finite.
    Rasch: a = 1 and the spread of θ is estimated (mean 0). Stops when no parameter moved
    by more than ``tolerance``. Standard errors: the inverse of each item's block of the
    observed information at the solution (Louis's formula, prior included; the
    complete-data information where that block is not positive definite).
    """

    nodes: int = 31
    max_iterations: int = 500
    tolerance: float = 1e-4
    prior_log_a_sd: float = 0.5
    prior_b_sd: float = 3.0
    name: str = "reference EM (Bock–Aitkin, numpy)"

    def fit(self, x: Floats, model: Model) -> FitResult:
        data = _Responses(x)
        z, w = _quadrature(self.nodes)
        log_w = np.log(w)
        n_items = data.items
        seen = np.asarray(data.seen.sum(axis=0)).ravel()
        right = np.asarray(data.right.sum(axis=0)).ravel()
        p = np.clip(right / np.maximum(seen, 1), 0.02, 0.98)
        log_a = np.zeros(n_items)
        b = np.log((1 - p) / p)
        sd = 1.0
        converged = False
        iterations = 0
        log_likelihood = -math.inf
        info = np.zeros((n_items, 2, 2))
        for iterations in range(1, self.max_iterations + 1):  # noqa: B007
            theta = sd * z
            a = np.exp(log_a)
            post, log_likelihood = _posterior(data, a, b, theta, log_w)
            n_q = np.asarray(data.seen_t @ post)  # items × nodes: expected learners
            r_q = np.asarray(data.right_t @ post)  # … of whom expected right
            if model == "rasch":
                sd_new = math.sqrt(float(np.sum(post * theta**2)) / data.learners)
            else:
                sd_new = 1.0
            new_log_a, new_b, info = self._m_step(n_q, r_q, theta, log_a=log_a, b=b, model=model)
            change = max(
                float(np.max(np.abs(new_log_a - log_a))),
                float(np.max(np.abs(new_b - b))),
                abs(sd_new - sd),
            )
            log_a, b, sd = new_log_a, new_b, sd_new
            if change < self.tolerance:
                converged = True
                break
        a = np.exp(log_a)
        observed = self._observed_information(data, a, b, theta=sd * z, log_w=log_w)
        se_log_a, se_b = self._standard_errors(observed, model)
        if not (np.all(np.isfinite(se_b)) and np.all(np.isfinite(se_log_a))):
            # not positive definite (an item barely informed): the complete-data information
            complete_a, complete_b = self._standard_errors(info, model)
            se_log_a = np.where(np.isfinite(se_log_a), se_log_a, complete_a)
            se_b = np.where(np.isfinite(se_b), se_b, complete_b)
        return FitResult(
            a=a,
            b=b,
            se_a=a * se_log_a if model == "2pl" else np.zeros(n_items),
            se_b=se_b,
            converged=converged,
            iterations=iterations,
            log_likelihood=log_likelihood,
            theta_sd=sd,
        )

    def _m_step(
        self, n_q: Floats, r_q: Floats, theta: Floats, *, log_a: Floats, b: Floats, model: Model
    ) -> tuple[Floats, Floats, npt.NDArray[np.float64]]:
        """Three Fisher-scoring steps per item on (ln a, b), all items at once; returns
        the new parameters and each item's 2 × 2 information (prior included)."""
        info = np.zeros((b.size, 2, 2))
        for _ in range(3):
            a = np.exp(log_a)
            d = theta[None, :] - b[:, None]
            p = 0.5 * (1.0 + np.tanh(0.5 * a[:, None] * d))
            resid = r_q - n_q * p
            weight = n_q * p * (1.0 - p)
            # gradient and expected information of the log-likelihood in (ln a, b)
            g_la = a * np.sum(resid * d, axis=1) - log_a / self.prior_log_a_sd**2
            g_b = -a * np.sum(resid, axis=1) - b / self.prior_b_sd**2
            i_la = a * a * np.sum(weight * d * d, axis=1) + 1.0 / self.prior_log_a_sd**2
            i_b = a * a * np.sum(weight, axis=1) + 1.0 / self.prior_b_sd**2
            i_x = -a * a * np.sum(weight * d, axis=1)
            info = np.stack([np.stack([i_la, i_x], -1), np.stack([i_x, i_b], -1)], -2)
            if model == "rasch":
                step_b = g_b / i_b
                step_la = np.zeros_like(log_a)
            else:
                det = i_la * i_b - i_x * i_x
                step_la = (i_b * g_la - i_x * g_b) / det
                step_b = (i_la * g_b - i_x * g_la) / det
            # a stays in [0.05, 20]: an item that barely discriminates would otherwise
            # slide along its ridge (a → 0, b → ±∞) and never converge
            log_a = np.clip(log_a + np.clip(step_la, -0.5, 0.5), _LOG_A_MIN, _LOG_A_MAX)
            b = b + np.clip(step_b, -1.0, 1.0)
        return log_a, b, info

    def _observed_information(
        self, data: _Responses, a: Floats, b: Floats, *, theta: Floats, log_w: Floats
    ) -> npt.NDArray[np.float64]:
        """Each item's 2 × 2 block of the observed information of the marginal likelihood
        in (ln a, b), by Louis's formula: the complete-data information, less the
        posterior variance of the complete-data score, summed over learners (prior
        included). The cross-item blocks are left out."""
        post, _ = _posterior(data, a, b, theta, log_w)
        n_q = np.asarray(data.seen_t @ post)
        r_q = np.asarray(data.right_t @ post)
        d = theta[None, :] - b[:, None]
        p = 0.5 * (1.0 + np.tanh(0.5 * a[:, None] * d))
        # Σ_q w·(da, db)(da, db)ᵀ with da = a·d, db = −a, for w = complete, squared score
        weights = (n_q * p * (1.0 - p), r_q * (1.0 - p) ** 2 + (n_q - r_q) * p * p)
        blocks = [
            np.stack(
                [
                    a * a * np.sum(w * d * d, axis=1),
                    -a * a * np.sum(w * d, axis=1),
                    a * a * np.sum(w, axis=1),
                ]
            )
            for w in weights
        ]
        # Σ_i m mᵀ, m the learner's posterior-mean score on the item
        rows, cols, right = data.entries()
        mean_theta = post @ theta
        e_p = np.empty(rows.size)
        e_tp = np.empty(rows.size)
        bounds = np.searchsorted(rows, np.arange(0, data.learners + 10_000, 10_000))
        for k in range(bounds.size - 1):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            if lo == hi:
                continue
            first = int(rows[lo])
            chunk = post[first : int(rows[hi - 1]) + 1]
            e_p[lo:hi] = (chunk @ p.T)[rows[lo:hi] - first, cols[lo:hi]]
            e_tp[lo:hi] = (chunk @ (p * theta[None, :]).T)[rows[lo:hi] - first, cols[lo:hi]]
        ai, bi = a[cols], b[cols]
        m_a = ai * (right * (mean_theta[rows] - bi) - (e_tp - bi * e_p))
        m_b = -ai * (right - e_p)
        n = a.size
        mean_part = np.stack(
            [
                np.bincount(cols, m_a * m_a, n),
                np.bincount(cols, m_a * m_b, n),
                np.bincount(cols, m_b * m_b, n),
            ]
        )
        aa, ab, bb = blocks[0] - blocks[1] + mean_part
        aa = aa + 1.0 / self.prior_log_a_sd**2
        bb = bb + 1.0 / self.prior_b_sd**2
        return np.stack([np.stack([aa, ab], -1), np.stack([ab, bb], -1)], -2)

    @staticmethod
    def _standard_errors(info: npt.NDArray[np.float64], model: Model) -> tuple[Floats, Floats]:
        with np.errstate(invalid="ignore", divide="ignore"):
            if model == "rasch":
                return np.zeros(info.shape[0]), 1.0 / np.sqrt(info[:, 1, 1])
            det = info[:, 0, 0] * info[:, 1, 1] - info[:, 0, 1] ** 2
            return np.sqrt(info[:, 1, 1] / det), np.sqrt(info[:, 0, 0] / det)


@dataclass(frozen=True)
class MirtFitter:
    """The ``mirt`` library's EM (Rust backend): the second implementation the benchmark
    measures the reference against (decision 0037), behind the same interface. Installed
    with the ``bench`` extra, imported only when used.

    2PL: ``fit_mirt(x, "2PL")`` with NaN as missing. Rasch: mirt's ``1PL`` holds both
    a = 1 and θ ~ N(0, 1) (biased difficulties when the spread of ability is not 1), so
    the Rasch model is fitted as a 2PL with one slope s shared by every item, and put on
    the Rasch metric: θ' = s·θ (SD s), b' = s·b.
    """

    nodes: int = 21
    max_iterations: int = 500
    tolerance: float = 1e-4
    standard_errors: bool = True

    @property
    def name(self) -> str:
        from importlib.metadata import version  # noqa: PLC0415

        return f"mirt {version('mirt')} EM ({self.nodes} nodes)"

    def fit(self, x: Floats, model: Model) -> FitResult:
        import mirt  # noqa: PLC0415  (optional: the bench extra)

        n_items = x.shape[1]
        result = mirt.fit_mirt(
            x,
            model="2PL",
            n_quadpts=self.nodes,
            max_iter=self.max_iterations,
            tol=self.tolerance,
            compute_standard_errors=self.standard_errors,
            constraints=[("discrimination", list(range(n_items)))] if model == "rasch" else None,
        )
        fitted = result.model.parameters
        a = np.asarray(fitted["discrimination"], dtype=np.float64).ravel()
        b = np.asarray(fitted["difficulty"], dtype=np.float64).ravel()
        errors = result.standard_errors
        nan = np.full(n_items, np.nan)
        se_a = np.asarray(errors.get("discrimination", nan), dtype=np.float64).ravel()
        se_b = np.asarray(errors.get("difficulty", nan), dtype=np.float64).ravel()
        theta_sd = 1.0
        if model == "rasch":
            theta_sd = float(a[0])
            b, se_b = theta_sd * b, theta_sd * se_b
            a, se_a = np.ones(n_items), np.zeros(n_items)
        return FitResult(
            a=a,
            b=b,
            se_a=se_a,
            se_b=se_b,
            converged=bool(result.converged),
            iterations=int(result.n_iterations),
            log_likelihood=float(result.log_likelihood),
            theta_sd=theta_sd,
        )


def item_rest_correlation(x: Floats) -> Floats:
    """Each item's correlation (0/1 answers) with the learners' share right on the other
    items of their paper, over the learners who had it and at least one other item; NaN
    where it is not defined. A 2PL cannot fit an item at or below 0 (its a would run to
    0 and its b away), so such items are screened out before the fit."""
    rows, cols = np.nonzero(~np.isnan(x))
    y = x[rows, cols]
    total = np.bincount(rows, y, x.shape[0])
    count = np.bincount(rows, minlength=x.shape[0]).astype(np.float64)
    keep = count[rows] > 1
    rows, cols, y = rows[keep], cols[keep], y[keep]
    rest = (total[rows] - y) / (count[rows] - 1)
    n_items = x.shape[1]

    def per_item(values: Floats) -> Floats:
        return np.bincount(cols, values, n_items).astype(np.float64)

    n = per_item(np.ones_like(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_y, mean_r = per_item(y) / n, per_item(rest) / n
        cov = per_item(y * rest) / n - mean_y * mean_r
        var_y = per_item(y * y) / n - mean_y**2
        var_r = per_item(rest * rest) / n - mean_r**2
        return np.asarray(cov / np.sqrt(var_y * var_r), dtype=np.float64)


def eap_abilities(
    x: Floats, a: Floats, b: Floats, *, theta_sd: float = 1.0, nodes: int = 61
) -> tuple[Floats, Floats]:
    """Each learner's EAP ability and its posterior SD given items (a, b) (NaN cells
    left out), with a N(0, theta_sd²) population."""
    z, w = _quadrature(nodes)
    theta = theta_sd * z
    post, _ = _posterior(_Responses(x), a, b, theta, np.log(w))
    mean = post @ theta
    var = post @ (theta * theta) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def item_fit(
    x: Floats, a: Floats, b: Floats, *, theta_sd: float = 1.0, nodes: int = 31
) -> tuple[Floats, Floats]:
    """Infit (information-weighted) and outfit (unweighted) mean squares of each item:
    Σ(y − E)² / Σ E(1 − E) and mean((y − E)² / E(1 − E)) over the learners who had it.

    E is the learner's expected score on the item from their ability posterior (EAP)
    given their *other* items: a learner's own answer does not pull their ability
    towards itself, which would make discriminating items look too good (outfit ≈ 0.6
    for a = 2 among 30 items with plug-in abilities). Under the model each statistic
    has expectation 1. NaN for an item nobody had."""
    z, w = _quadrature(nodes)
    theta = theta_sd * z
    data = _Responses(x)
    logit = a[:, None] * (theta[None, :] - b[:, None])  # items × nodes
    log_q = -np.logaddexp(0.0, logit)
    p_node = np.exp(logit + log_q)
    log_like = data.right @ logit + data.seen @ log_q + np.log(w)[None, :]
    rows, cols = np.nonzero(~np.isnan(x))
    y = x[rows, cols]
    expected = np.empty(rows.size)
    chunk = 100_000
    for start in range(0, rows.size, chunk):
        r, c, yy = (
            rows[start : start + chunk],
            cols[start : start + chunk],
            y[start : start + chunk],
        )
        own = np.where(yy[:, None] > 0.5, logit[c] + log_q[c], log_q[c])
        rest = log_like[r] - own
        rest = np.exp(rest - rest.max(axis=1, keepdims=True))
        expected[start : start + chunk] = np.sum(rest * p_node[c], axis=1) / rest.sum(axis=1)
    variance = np.maximum(expected * (1.0 - expected), 1e-12)
    squared = (y - expected) ** 2
    n_items = x.shape[1]
    n = np.bincount(cols, minlength=n_items).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        infit = np.bincount(cols, squared, n_items) / np.bincount(cols, variance, n_items)
        outfit = np.bincount(cols, squared / variance, n_items) / n
    return infit, outfit


# --- linking -------------------------------------------------------------------------


def _tcc(theta: Floats, a: Floats, b: Floats) -> Floats:
    """The anchors' test characteristic curve (expected number right) at each θ."""
    p = 0.5 * (1.0 + np.tanh(0.5 * a[None, :] * (theta[:, None] - b[None, :])))
    return np.asarray(p.sum(axis=1), dtype=np.float64)


def mean_sigma(b_new: Floats, b_old: Floats) -> tuple[float, float]:
    """A, B of the mean–sigma link: the anchors' b keep their mean and spread."""
    sd_new = float(np.std(b_new))
    scale = float(np.std(b_old)) / sd_new if sd_new > 1e-9 else 1.0
    return scale, float(np.mean(b_old) - scale * np.mean(b_new))


def stocking_lord(
    a_new: Floats, b_new: Floats, a_old: Floats, b_old: Floats, *, fixed_scale: bool = False
) -> tuple[float, float, bool]:
    """A, B minimising the squared distance between the anchors' test characteristic
    curves (old against transformed new) over θ in [−4, 4] weighted by N(0, 1) on the old
    scale; started from mean–sigma (or, for the Rasch model, where ``fixed_scale`` keeps
    A = 1, from mean–mean). Returns (A, B, whether the optimiser converged)."""
    grid = np.linspace(-4.0, 4.0, 41)
    weights = np.exp(-0.5 * grid * grid)
    weights /= weights.sum()
    from scipy import optimize  # noqa: PLC0415  (here, as sparse in _Responses)

    old = _tcc(grid, a_old, b_old)

    def loss(scale: float, shift: float) -> float:
        if scale <= 0:
            return math.inf
        new = _tcc(grid, a_new / scale, scale * b_new + shift)
        return float(np.sum(weights * (old - new) ** 2))

    if fixed_scale:
        start_b = float(np.mean(b_old - b_new))
        found = optimize.minimize_scalar(
            lambda shift: loss(1.0, shift), bracket=(start_b - 1.0, start_b + 1.0)
        )
        return 1.0, float(found.x), bool(found.success)
    start = np.array(mean_sigma(b_new, b_old))
    if not (0.1 < start[0] < 10.0):
        start = np.array([1.0, float(np.mean(b_old - b_new))])
    result = optimize.minimize(
        lambda v: loss(float(v[0]), float(v[1])),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 2000},
    )
    return float(result.x[0]), float(result.x[1]), bool(result.success)


# --- calibrate -----------------------------------------------------------------------


@dataclass
class _Estimates:
    """The per-item arrays a calibration is built from (NaN / None: not applicable)."""

    a: Floats
    b: Floats
    se_a: Floats
    se_b: Floats
    infit: Floats
    outfit: Floats
    fitted: npt.NDArray[np.bool_]
    anchor: npt.NDArray[np.bool_]
    drift_a: list[float | None]
    drift_b: list[float | None]

    @classmethod
    def authored(cls, authored: Sequence[float], fitted: npt.NDArray[np.bool_]) -> _Estimates:
        n = len(authored)
        return cls(
            a=np.ones(n),
            b=np.asarray(authored, dtype=np.float64).copy(),
            se_a=np.full(n, np.nan),
            se_b=np.full(n, np.nan),
            infit=np.full(n, np.nan),
            outfit=np.full(n, np.nan),
            fitted=fitted,
            anchor=np.zeros(n, dtype=bool),
            drift_a=[None] * n,
            drift_b=[None] * n,
        )


def calibrate(
    scores: npt.ArrayLike,
    keys: Sequence[str],
    authored: Sequence[float],
    *,
    model: Model = "2pl",
    min_responses: int = DEFAULT_MIN_RESPONSES,
    previous: Mapping[str, ItemParameters] | None = None,
    previous_number: int | None = None,
    fitter: Fitter | None = None,
) -> Calibration:
    """Calibrate the items ``keys`` (columns of ``scores``: learners × items, fraction
    earned 0–1, NaN = not presented) under ``model``; link to ``previous`` (the scale of
    calibration ``previous_number``) through the items both hold. ``authored``: each
    item's authored difficulty as a logit, kept for provisional items."""
    x = dichotomise(scores)
    if x.ndim != 2 or x.shape[1] != len(keys) or len(authored) != len(keys):
        raise ValueError(
            f"scores must be learners × items with one column per key "
            f"(got {x.shape} for {len(keys)} keys and {len(authored)} authored labels)"
        )
    used: Fitter = fitter if fitter is not None else ReferenceFitter()
    responses = np.sum(~np.isnan(x), axis=0).astype(int)
    right = np.nansum(x, axis=0)
    few = responses < max(min_responses, 1)  # an item nobody had is never calibrated
    all_same = (responses > 0) & ((right == 0) | (right == responses))
    reversed_ = ~few & ~all_same & (item_rest_correlation(x) <= 0.0)
    est = _Estimates.authored(authored, ~few & ~all_same & ~reversed_)
    learners = int(np.sum(np.any(~np.isnan(x), axis=1)))
    notes: list[str] = []
    converged, iterations, log_likelihood, fitter_name = True, 0, None, used.name
    link = Link(method="none")
    if int(est.fitted.sum()) < MIN_ITEMS:
        est.fitted[:] = False
        kept = "authored labels kept for every item" if not previous else "nothing calibrated"
        notes.append(
            f"too few responses: {kept} "
            f"({learners} learners; an item is calibrated from {min_responses} responses "
            f"and a calibration needs {MIN_ITEMS} such items)"
        )
        fitter_name = "none"
    else:
        result = _fit(x, est, used, model)
        converged, iterations = result.converged, result.iterations
        log_likelihood = float(result.log_likelihood)
        if model == "rasch":
            notes.append(f"Rasch: spread of ability estimated, SD {result.theta_sd:.3f} logits")
        if not converged:
            notes.append(f"the fit did not converge in {iterations} iterations")
        if previous:
            link = _link(
                keys,
                est,
                model=model,
                previous=previous,
                previous_number=previous_number,
                notes=notes,
            )
    # Carried parameters are on the previous scale: only where this calibration is on it
    # too (linked, or nothing fitted here at all).
    on_previous_scale = fitter_name == "none" or link.method != "none"
    carried = _carry_forward(keys, est, previous if on_previous_scale else None)
    if carried.any():
        notes.append(
            f"{int(carried.sum())} item(s) with too few usable responses here keep their "
            f"parameters from calibration {previous_number}"
        )
    if (few & ~carried).any() and fitter_name != "none":
        notes.append(
            f"{int((few & ~carried).sum())} item(s) below {min_responses} responses: "
            "provisional (authored label, a = 1)"
        )
    if (all_same & ~few & ~carried).any():
        notes.append(
            f"{int((all_same & ~few & ~carried).sum())} item(s) answered all right or all "
            "wrong: provisional (authored label, a = 1)"
        )
    if reversed_.any():
        notes.append(
            f"{int(reversed_.sum())} item(s) left out of the fit: learners who did better on "
            "the rest of their paper did not do better on the item (item–rest correlation "
            "≤ 0; check the key)"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        p_values = right / responses
    items = tuple(
        CalibratedItem(
            key=key,
            a=float(est.a[j]),
            b=float(est.b[j]),
            se_a=_opt(est.se_a[j]) if est.fitted[j] and model == "2pl" else None,
            se_b=_opt(est.se_b[j]) if est.fitted[j] else None,
            responses=int(responses[j]),
            p_value=_opt(p_values[j]),
            infit=_opt(est.infit[j]),
            outfit=_opt(est.outfit[j]),
            provisional=not bool(est.fitted[j] or carried[j]),
            anchor=bool(est.anchor[j]),
            drift_b=est.drift_b[j],
            drift_a=est.drift_a[j],
            flags=_flags(
                j,
                est,
                few=bool(few[j]),
                reversed_=bool(reversed_[j]),
                converged=converged,
                model=model,
            )
            + (("carried",) if carried[j] else ()),
        )
        for j, key in enumerate(keys)
    )
    return Calibration(
        model=model,
        fitter=fitter_name,
        learners=learners,
        items=items,
        link=link,
        converged=converged,
        iterations=iterations,
        log_likelihood=log_likelihood,
        min_responses=min_responses,
        notes=tuple(notes),
    )


def _carry_forward(
    keys: Sequence[str], est: _Estimates, previous: Mapping[str, ItemParameters] | None
) -> npt.NDArray[np.bool_]:
    """Items not calibrated here (too few responses, or all right / all wrong) that the
    previous calibration did calibrate keep its parameters: they are on the scale this
    calibration is linked to, and better evidence than the authored label. Returns
    which items were carried; their a and b are set in ``est``."""
    carried = np.zeros(len(keys), dtype=bool)
    if not previous:
        return carried
    for j, key in enumerate(keys):
        before = previous.get(key)
        if not est.fitted[j] and before is not None and not before.provisional:
            carried[j] = True
            est.a[j], est.b[j] = before.a, before.b
    return carried


def _fit(x: Floats, est: _Estimates, fitter: Fitter, model: Model) -> FitResult:
    """Fit the calibratable items (learners who had none of them left out) and measure
    their fit; fills ``est`` in."""
    columns = np.flatnonzero(est.fitted)
    sub = x if columns.size == x.shape[1] else x[:, columns]  # no copy in the usual case
    had_any = np.any(~np.isnan(sub), axis=1)
    if not had_any.all():
        sub = sub[had_any]
    result = fitter.fit(sub, model)
    est.a[columns], est.b[columns] = result.a, result.b
    est.se_a[columns], est.se_b[columns] = result.se_a, result.se_b
    est.infit[columns], est.outfit[columns] = item_fit(
        sub, est.a[columns], est.b[columns], theta_sd=result.theta_sd
    )
    return result


def _flags(
    j: int, est: _Estimates, *, few: bool, reversed_: bool, converged: bool, model: Model
) -> tuple[str, ...]:
    """Item ``j``'s flags: ``few_responses`` (below the threshold: not fitted),
    ``extreme`` (all right or all wrong; or a calibrated |b| > 4, a outside 0.2–4),
    ``misfit`` (infit or outfit outside ``FIT_RANGE``; or an item–rest correlation ≤ 0,
    left out of the fit), ``drift`` (see ``_drifted``), ``not_converged`` (the fit did not
    converge, or the item's SE is not finite)."""
    flags: list[str] = []
    if few:
        return ("few_responses",)
    if reversed_:
        return ("misfit",)
    if not est.fitted[j]:
        return ("extreme",)
    low, high = FIT_RANGE
    if not (low <= est.infit[j] <= high and low <= est.outfit[j] <= high):
        flags.append("misfit")
    drift_b = est.drift_b[j]
    if drift_b is not None and _drifted(
        drift_b, float(est.se_b[j]), est.drift_a[j], float(est.se_a[j]), model
    ):
        flags.append("drift")
    if not converged or not np.isfinite(est.se_b[j]):
        flags.append("not_converged")
    if abs(est.b[j]) > EXTREME_B or not (EXTREME_A[0] <= est.a[j] <= EXTREME_A[1]):
        flags.append("extreme")
    return tuple(flags)


def _opt(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _drifted(drift_b: float, se_b: float, drift_a: float | None, se_a: float, model: Model) -> bool:
    """The drift rule: |Δb| > ``DRIFT_B`` and beyond two standard errors of the new
    estimate; for the 2PL also |Δa| > ``DRIFT_A`` and beyond two standard errors."""
    se_b = se_b if np.isfinite(se_b) else 0.0
    if abs(drift_b) > DRIFT_B and abs(drift_b) > 2.0 * se_b:
        return True
    if model == "2pl" and drift_a is not None:
        se_a = se_a if np.isfinite(se_a) else 0.0
        return abs(drift_a) > DRIFT_A and abs(drift_a) > 2.0 * se_a
    return False


def _link(
    keys: Sequence[str],
    est: _Estimates,
    *,
    model: Model,
    previous: Mapping[str, ItemParameters],
    previous_number: int | None,
    notes: list[str],
) -> Link:
    """Put the fitted items on the previous scale through the common items (see the
    module's docstring), in ``est``; provisional items keep their authored label. The
    anchors with the largest drift are left out one at a time until none drifts (while
    ``MIN_ANCHORS`` remain)."""
    common = np.array(
        [
            bool(est.fitted[j]) and k in previous and not previous[k].provisional
            for j, k in enumerate(keys)
        ],
        dtype=bool,
    )
    if int(common.sum()) < MIN_ANCHORS:
        notes.append(
            f"not linked to calibration {previous_number}: {int(common.sum())} common "
            f"calibrated item(s), a link needs {MIN_ANCHORS}; this calibration is on its "
            "own cohort's scale"
        )
        return Link(method="none")
    old_a = np.array([previous[k].a if common[j] else 1.0 for j, k in enumerate(keys)])
    old_b = np.array([previous[k].b if common[j] else 0.0 for j, k in enumerate(keys)])
    use = common.copy()
    a, b, se_a, se_b = est.a, est.b, est.se_a, est.se_b
    while True:
        idx = np.flatnonzero(use)
        scale, shift, ok = stocking_lord(
            a[idx], b[idx], old_a[idx], old_b[idx], fixed_scale=model == "rasch"
        )
        method: Literal["stocking_lord", "mean_sigma"] = "stocking_lord"
        if not ok or not (0.1 < scale < 10.0):
            method = "mean_sigma"
            scale, shift = (
                (1.0, float(np.mean(old_b[idx] - b[idx])))
                if model == "rasch"
                else mean_sigma(b[idx], old_b[idx])
            )
        d_b = scale * b + shift - old_b
        d_a = a / scale - old_a
        drifted = [
            int(j)
            for j in idx
            if _drifted(
                float(d_b[j]), scale * float(se_b[j]), float(d_a[j]), float(se_a[j]) / scale, model
            )
        ]
        if not drifted or idx.size - 1 < MIN_ANCHORS:
            break
        worst = max(drifted, key=lambda j: (abs(float(d_b[j])), -j))
        use[worst] = False
        notes.append(
            f"anchor {keys[worst]} drifted (Δb {float(d_b[worst]):+.2f}): left out of the link"
        )
    fitted = est.fitted
    est.a = np.where(fitted, a / scale, a)
    est.b = np.where(fitted, scale * b + shift, b)
    est.se_a = np.where(fitted, se_a / scale, se_a)
    est.se_b = np.where(fitted, scale * se_b, se_b)
    for j in np.flatnonzero(common):
        est.drift_b[j] = float(d_b[j])
        est.drift_a[j] = float(d_a[j]) if model == "2pl" else 0.0
    est.anchor = use
    return Link(
        method=method,
        A=float(scale),
        B=float(shift),
        anchors=int(use.sum()),
        previous=previous_number,
    )


def parameters(calibration: Calibration) -> dict[str, ItemParameters]:
    """Every item's parameters as assembly and equating take them."""
    return {
        item.key: ItemParameters(a=item.a, b=item.b, provisional=item.provisional)
        for item in calibration.items
    }
