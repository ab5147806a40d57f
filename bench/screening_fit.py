"""Fit the name model of kycd.screening.matching on nomenklatura's labelled
name pairs, and report how well it generalises (k-fold cross-validation).

    python -m bench.screening_fit            # print weights and CV figures

The fitted weights are pasted into ``WEIGHTS``/``INTERCEPT`` by hand: the
model is a dozen readable numbers, not a file shipped beside the code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from kycd.screening.matching import FEATURES, Kind, Subject, analyze, name_features

CASES = Path("/work/shared/benchdata/name_bench/cases.csv")
SCHEMA_KINDS = {
    "Person": Kind.PERSON,
    "Company": Kind.ORGANIZATION,
    "Organization": Kind.ORGANIZATION,
    "LegalEntity": Kind.ENTITY,
    "Vessel": Kind.OBJECT,
}


def read_cases(path: Path = CASES) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def pair_features(schema: str, left: str, right: str) -> list[float]:
    kind = SCHEMA_KINDS[schema]
    queries = analyze(Subject(kind, (left,)), is_query=True)
    candidates = analyze(Subject(kind, (right,)), is_query=False)
    best: tuple[float, list[float]] | None = None
    for q in queries:
        for c in candidates:
            features, _ = name_features(q, c, kind is Kind.PERSON, kind is Kind.OBJECT)
            rank = (features[0] + features[1]) / 2
            if best is None or rank > best[0]:
                best = (rank, list(features))
    return best[1] if best else [0.0] * len(FEATURES)


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (as liblinear's
    objective: the intercept is not penalised)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.eye(d + 1) / c
    penalty[d, d] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:d], float(w[d])


def f1(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & y).sum())
    fp = float((pred & ~y).sum())
    fn = float((~pred & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, score


def cross_validated(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities: each pair scored by a model that never saw it."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        w, b = fit_logistic(x[train], y[train])
        out[test] = 1 / (1 + np.exp(-(x[test] @ w + b)))
    return out


def main() -> None:
    cases = read_cases()
    x = np.array([pair_features(r["schema"], r["name1"], r["name2"]) for r in cases])
    y = np.array([r["is_match"] == "true" for r in cases])
    w, b = fit_logistic(x, y)
    print("WEIGHTS = (")
    for name, value in zip(FEATURES, w, strict=True):
        print(f"    {value:.4f},  # {name}")
    print(")")
    print(f"INTERCEPT = {b:.4f}")
    p_in = 1 / (1 + np.exp(-(x @ w + b)))
    p_cv = cross_validated(x, y)
    for threshold in (0.4, 0.5, 0.6, 0.7):
        print(
            f"threshold {threshold}: in-sample P/R/F1 {f1(p_in >= threshold, y)}, "
            f"5-fold CV {f1(p_cv >= threshold, y)}"
        )


if __name__ == "__main__":
    main()
