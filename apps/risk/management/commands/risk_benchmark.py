"""The risk trainer's procedure on any claims table (a CSV with a claim count and an exposure).

manage.py risk_benchmark --csv freMTPLmini.csv --count-col ClaimNb --exposure-col Exposure \
    --categorical Area,VehBrand

Same split (by group, 60/20/20), same XGBoost (count:poisson, log-exposure base margin, early
stopping on validation, same size), same Poisson GLM with the exposure offset, same test metrics
as `train_risk_model`. Nothing is stored: it measures the procedure, it does not make a model.
"""

import json
import time
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from apps.risk import modeling


def names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Run the XGBoost-vs-GLM claim-frequency procedure on a CSV table and print test-part metrics."

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True, dest="csv_path")
        parser.add_argument("--count-col", required=True)
        parser.add_argument("--exposure-col", required=True)
        parser.add_argument("--categorical", default="", help="comma-separated categorical columns")
        parser.add_argument("--features", default="", help="comma-separated features (default: all other columns)")
        parser.add_argument("--exclude", default="", help="comma-separated columns that are not features (ids)")
        parser.add_argument("--group-col", default="", help="rows sharing it stay in one part (default: each row)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-size-tradeoff", action="store_true", help="skip the larger reference model")
        parser.add_argument("--json", default="", dest="json_path", help="also write the metrics here")

    def handle(self, *args, csv_path, count_col, exposure_col, categorical, features, exclude, group_col, seed,
               no_size_tradeoff, json_path, **options):  # fmt: skip
        path = Path(csv_path)
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            frame = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not a readable CSV: {exc}") from None
        categorical_cols = names(categorical)
        excluded = {count_col, exposure_col, *names(exclude), *([group_col] if group_col else [])}
        feature_cols = names(features) or [c for c in frame.columns if c not in excluded]
        unknown = [c for c in [*categorical_cols, *feature_cols, *([group_col] if group_col else [])] if c not in frame]
        if unknown:
            raise CommandError(f"column(s) not in {path.name}: {', '.join(unknown)}")
        if not_features := [c for c in categorical_cols if c not in feature_cols]:
            raise CommandError(f"categorical column(s) not among the features: {', '.join(not_features)}")
        try:
            dataset = modeling.Dataset(
                frame=frame,
                features=feature_cols,
                count_col=count_col,
                exposure_col=exposure_col,
                categorical=categorical_cols,
                group_col=group_col or None,
            )
            start = time.perf_counter()
            result = modeling.compare(dataset, seed=seed, size_tradeoff=not no_size_tradeoff)
            elapsed = time.perf_counter() - start
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{path.name}: {len(frame):,} rows, features {', '.join(feature_cols)}"
            f"{' (categorical: ' + ', '.join(categorical_cols) + ')' if categorical_cols else ''}; "
            f"XGBoost {result.booster.num_boosted_rounds()} trees depth {modeling.XGB_PARAMS['max_depth']}; "
            f"{elapsed:.1f} s"
        )
        for line in modeling.comparison_lines(result.metrics, result.size_tradeoff):
            self.stdout.write(line)
        better = result.metrics["xgboost"]["mean_poisson_deviance"] < result.metrics["glm"]["mean_poisson_deviance"]
        self.stdout.write(f"XGBoost {'beats' if better else 'does NOT beat'} the GLM on test deviance")
        if json_path:
            Path(json_path).write_text(
                json.dumps(
                    {"file": path.name, "rows": len(frame), "features": feature_cols, "metrics": result.metrics,
                     "size_tradeoff": result.size_tradeoff, "importances": result.importances},
                    indent=2, default=float,
                )
            )  # fmt: skip
