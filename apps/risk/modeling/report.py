"""The comparisons as plain-text lines (the commands and the benchmark print them)."""

METRIC_ROWS = (
    ("mean_poisson_deviance", "mean Poisson deviance", "{:.4f}"),
    ("d2", "D² (deviance explained)", "{:.4f}"),
    ("gini", "Gini (Lorenz, exposure)", "{:.4f}"),
    ("normalised_gini", "normalised Gini", "{:.4f}"),
    ("total_predicted", "total predicted claims", "{:.1f}"),
    ("total_observed", "total observed claims", "{:.0f}"),
)
MODELS = (("xgboost", "XGBoost"), ("glm", "GLM"), ("glm_linear", "linear GLM"), ("constant", "constant"))


def comparison_lines(metrics: dict, size_tradeoff: list[dict] | None = None, gate: dict | None = None) -> list[str]:
    """One training run's test-part comparison."""
    models = [(key, label) for key, label in MODELS if key in metrics]
    lines = [f"{'test part':<34}" + "".join(f"{label:>12}" for _, label in models)]
    for key, label, fmt in METRIC_ROWS:
        lines.append(f"{label:<34}" + "".join(f"{fmt.format(metrics[m][key]):>12}" for m, _ in models))
    lines.append("")
    lines.append("calibration by decile of predicted frequency (XGBoost | GLM): predicted / observed claims")
    for x_row, g_row in zip(metrics["xgboost"]["calibration"], metrics["glm"]["calibration"], strict=False):
        lines.append(
            f"  decile {x_row['decile']:>2}: {x_row['predicted_claims']:>9.1f} / {x_row['observed_claims']:<6}"
            f"| {g_row['predicted_claims']:>9.1f} / {g_row['observed_claims']}"
        )
    calibration = metrics.get("calibration")
    if calibration:
        before, after = calibration["test_before"], calibration["test_after"]
        lines.append(
            f"calibration correction: {_correction(calibration)} (validation worst "
            f"decile {_pct(calibration['validation_before']['worst_decile_error'])}); test worst decile before "
            f"{_pct(before['worst_decile_error'])}, after {_pct(after['worst_decile_error'])}"
        )
    if size_tradeoff:
        lines.append("")
        lines.append("XGBoost size chosen on the validation part (early stopping decides the trees):")
        for row in size_tradeoff:
            extra = ""
            if "test_mean_poisson_deviance" in row:
                extra = (f", test {row['test_mean_poisson_deviance']:.4f}, "
                         f"{row['pred_contribs_rows_per_s_1_thread']:,} SHAP rows/s")  # fmt: skip
            lines.append(
                f"  {'*' if row.get('chosen') else ' '} depth {row['max_depth']} eta {row['eta']}: "
                f"{row['trees']:>4} trees"
                f"{' (cap reached)' if row.get('cap_reached') else ''}, validation deviance "
                f"{row['validation_mean_poisson_deviance']:.4f}{extra}"
            )
    if gate:
        lines.append("")
        gated = "XGBoost" if "glm" in gate else "GLM"  # the GLM's gate has no GLM to beat
        lines.append(f"{gated} test deviance minus each comparator's (bootstrap 95% interval by group):")
        for name, row in gate.items():
            lines.append(f"  vs {name:<10} {row['difference']:+.5f} [{row['ci95'][0]:+.5f}, {row['ci95'][1]:+.5f}]")
    split = metrics.get("split")
    if split:
        lines.append("")
        lines.append(
            "split by group: "
            + ", ".join(f"{p} {s['groups']} groups / {s['claims']:.0f} claims" for p, s in split.items())
        )
    return lines


def protocol_lines(evaluation: dict) -> list[str]:
    """The repeated protocol: mean over seeds and bootstrap 95% interval per model."""
    summary = evaluation["summary"]
    lines = [
        f"test share {evaluation['test_share']:.0%} by group, seeds {', '.join(map(str, evaluation['seeds']))}: "
        "mean over seeds [bootstrap 95% interval]"
    ]
    for key, label in (("mean_poisson_deviance", "mean Poisson deviance"), ("d2", "D²"),
                       ("normalised_gini", "normalised Gini")):  # fmt: skip
        lines.append(f"  {label}")
        for model in summary:
            row = summary[model][key]
            lines.append(f"    {model:<10} {row['mean']:.4f} [{row['ci95'][0]:.4f}, {row['ci95'][1]:.4f}]")
    ratio = summary["xgboost"]["deviance_ratio_to_glm"]
    lines.append(f"  XGBoost / GLM deviance ratio {ratio['mean']:.4f} [{ratio['ci95'][0]:.4f}, {ratio['ci95'][1]:.4f}]")
    for row in evaluation["per_seed"]:
        worst = row["calibration"]["test_after"]["worst_decile_error"]
        lines.append(
            f"  seed {row['seed']}: {row['trees']} trees depth {row['max_depth']} eta {row['eta']}"
            f"{' (cap reached)' if row['cap_reached'] else ''}; train/test claims {row['train_claims']:.0f}/"
            f"{row['test_claims']:.0f}; calibration {'corrected' if row['calibration']['corrected'] else 'kept'}, "
            f"test worst decile {_pct(worst)}"
        )
    return lines


def _correction(calibration: dict) -> str:
    if calibration["corrected"]:
        return "applied"
    if calibration.get("fitted_correction"):
        return "fitted, not significant on validation, not applied"
    return "not needed"


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"
