"""Actuarial metrics of a claim-frequency prediction, and their bootstrap intervals.

Conventions (those of scikit-learn's freMTPL2 example, so figures compare):
- mean Poisson deviance is the exposure-weighted deviance of the frequency, i.e. the total
  deviance of the counts divided by the total exposure;
- D² = 1 - deviance(model) / deviance(test-set mean frequency);
- Gini from the Lorenz curve of cumulated exposure (ranked by predicted frequency) against
  cumulated observed claims; normalised by the Gini of the oracle ranking (observed frequency).
"""

import numpy as np

BOOTSTRAP_DRAWS = 400


def _as_arrays(counts, exposure, predicted_counts):
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    mu = np.asarray(predicted_counts, dtype=float)
    if not (len(y) == len(e) == len(mu)) or len(y) == 0:
        raise ValueError("counts, exposure and predictions must be non-empty and of one length")
    if (e <= 0).any():
        raise ValueError("exposure must be positive")
    if (mu <= 0).any():
        raise ValueError("predicted claim counts must be positive")
    return y, e, mu


def poisson_unit_deviances(counts, predicted_counts) -> np.ndarray:
    """Each row's Poisson deviance (they sum to the total deviance)."""
    y = np.asarray(counts, dtype=float)
    mu = np.asarray(predicted_counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return 2.0 * (ylogy - (y - mu))


def poisson_deviance_total(counts, predicted_counts) -> float:
    return float(np.sum(poisson_unit_deviances(counts, predicted_counts)))


def mean_poisson_deviance(counts, exposure, predicted_counts) -> float:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    return poisson_deviance_total(y, mu) / float(e.sum())


def d2_poisson(counts, exposure, predicted_counts) -> float:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    null = e * (y.sum() / e.sum())
    null_dev = poisson_deviance_total(y, null)
    if null_dev == 0:
        return 0.0
    return 1.0 - poisson_deviance_total(y, mu) / null_dev


def lorenz_curve(counts, exposure, ranking_frequency) -> tuple[np.ndarray, np.ndarray]:
    """Cumulated exposure share and cumulated claim share, safest (lowest ranking) first, from 0."""
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    order = np.argsort(np.asarray(ranking_frequency, dtype=float), kind="mergesort")
    cum_e = np.concatenate([[0.0], np.cumsum(e[order]) / e.sum()])
    total = y.sum()
    cum_y = np.concatenate([[0.0], np.cumsum(y[order]) / total]) if total > 0 else np.zeros(len(y) + 1)
    return cum_e, cum_y


def gini(counts, exposure, ranking_frequency) -> float:
    """1 - 2 x area under the Lorenz curve (a model ranking risks well has a curve far below the
    diagonal, hence a high Gini)."""
    cum_e, cum_y = lorenz_curve(counts, exposure, ranking_frequency)
    area = float(np.sum((cum_e[1:] - cum_e[:-1]) * (cum_y[1:] + cum_y[:-1]) / 2.0))
    return 1.0 - 2.0 * area


def normalised_gini(counts, exposure, predicted_frequency) -> float:
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    oracle = gini(y, e, y / e)
    return gini(y, e, predicted_frequency) / oracle if oracle > 0 else 0.0


def calibration_by_decile(counts, exposure, predicted_counts, *, bins: int = 10) -> list[dict]:
    """Rows ranked by predicted frequency, cut into `bins` groups of about equal exposure."""
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    order = np.argsort(mu / e, kind="mergesort")
    y, e, mu = y[order], e[order], mu[order]
    mid = (np.cumsum(e) - e / 2.0) / e.sum()
    decile = np.minimum((mid * bins).astype(int), bins - 1)
    table = []
    for d in range(bins):
        mask = decile == d
        if not mask.any():
            continue
        exp_d = float(e[mask].sum())
        observed = float(y[mask].sum())
        table.append(
            {
                "decile": d + 1,
                "rows": int(mask.sum()),
                "exposure": round(exp_d, 4),
                "predicted_claims": round(float(mu[mask].sum()), 4),
                "observed_claims": round(observed),
                "predicted_frequency": round(float(mu[mask].sum()) / exp_d, 5),
                "observed_frequency": round(observed / exp_d, 5),
                "predicted_over_observed": round(float(mu[mask].sum()) / observed, 4) if observed > 0 else None,
            }
        )
    return table


def calibration_worst(table: list[dict], *, min_claims: int) -> float | None:
    """The largest |predicted/observed - 1| over the deciles with at least `min_claims` claims."""
    offs = [abs(r["predicted_over_observed"] - 1) for r in table if r["observed_claims"] >= min_claims]
    return max(offs) if offs else None


def poisson_metrics(counts, exposure, predicted_counts) -> dict:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    return {
        "rows": len(y),
        "exposure": float(e.sum()),
        "mean_poisson_deviance": mean_poisson_deviance(y, e, mu),
        "d2": d2_poisson(y, e, mu),
        "gini": gini(y, e, mu / e),
        "normalised_gini": normalised_gini(y, e, mu / e),
        "total_predicted": float(mu.sum()),
        "total_observed": float(y.sum()),
        "predicted_over_observed": float(mu.sum() / y.sum()) if y.sum() > 0 else None,
        "calibration": calibration_by_decile(y, e, mu),
    }


# --- uncertainty ---------------------------------------------------------------------------------

HEADLINE = ("mean_poisson_deviance", "d2", "normalised_gini")


def _headline(y, e, mu) -> dict[str, float]:
    return {
        "mean_poisson_deviance": poisson_deviance_total(y, mu) / float(e.sum()),
        "d2": d2_poisson(y, e, mu),
        "normalised_gini": normalised_gini(y, e, mu / e),
    }


def group_resamples(groups: np.ndarray, *, draws: int, seed: int) -> list[np.ndarray]:
    """Row indices of `draws` bootstrap samples drawn by group (all rows of a drawn group)."""
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(unique) == len(inverse):
        return [rng.integers(0, len(inverse), len(inverse)) for _ in range(draws)]
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(unique)))
    ends = np.append(starts[1:], len(order))
    samples = []
    for _ in range(draws):
        picked = rng.integers(0, len(unique), len(unique))
        samples.append(np.concatenate([order[starts[g] : ends[g]] for g in picked]))
    return samples


def bootstrap_headline(
    runs: list[dict], models: list[str], *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0, reference: str | None = None
) -> dict:
    """Mean over runs (seeds or folds) of the headline metrics of each model, with a percentile
    bootstrap 95% interval of that mean: each draw resamples every run's test groups and averages
    the runs. `runs` hold "counts", "exposure", "groups" and "predicted" {model: counts} of their
    test part. With `reference`, the same for each model's deviance minus the reference's and
    their ratio (paired: one resample serves every model)."""
    point = {m: {k: float(np.mean([_headline(r["counts"], r["exposure"], r["predicted"][m])[k] for r in runs]))
                 for k in HEADLINE} for m in models}  # fmt: skip
    replicate = {m: {k: np.zeros(draws) for k in HEADLINE} for m in models}
    for index, run in enumerate(runs):
        y, e = run["counts"], run["exposure"]
        for b, rows in enumerate(group_resamples(run["groups"], draws=draws, seed=seed + index)):
            for m in models:
                for k, v in _headline(y[rows], e[rows], run["predicted"][m][rows]).items():
                    replicate[m][k][b] += v / len(runs)
    result = {m: {k: {"mean": point[m][k], "ci95": _interval(replicate[m][k])} for k in HEADLINE} for m in models}
    if reference:
        ref = replicate[reference]["mean_poisson_deviance"]
        for m in models:
            if m == reference:
                continue
            dev = replicate[m]["mean_poisson_deviance"]
            result[m][f"deviance_minus_{reference}"] = {
                "mean": point[m]["mean_poisson_deviance"] - point[reference]["mean_poisson_deviance"],
                "ci95": _interval(dev - ref),
            }
            result[m][f"deviance_ratio_to_{reference}"] = {
                "mean": point[m]["mean_poisson_deviance"] / point[reference]["mean_poisson_deviance"],
                "ci95": _interval(dev / ref),
            }
    return result


def _interval(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def paired_deviance_difference(
    counts, exposure, groups, predicted: np.ndarray, other: np.ndarray, *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> dict:
    """Mean deviance of `predicted` minus that of `other` on the same rows, with a bootstrap 95%
    interval (resampled by group). Negative: `predicted` is better."""
    y, e = np.asarray(counts, dtype=float), np.asarray(exposure, dtype=float)
    point = (poisson_deviance_total(y, predicted) - poisson_deviance_total(y, other)) / float(e.sum())
    diffs = np.array(
        [
            (poisson_deviance_total(y[r], predicted[r]) - poisson_deviance_total(y[r], other[r])) / float(e[r].sum())
            for r in group_resamples(groups, draws=draws, seed=seed)
        ]
    )
    base = poisson_deviance_total(y, other) / float(e.sum())
    return {
        "difference": point,
        "ci95": _interval(diffs),
        "relative": point / base if base > 0 else None,
    }
