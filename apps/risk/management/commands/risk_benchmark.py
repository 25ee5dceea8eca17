"""The risk trainer's procedure on any claims table (a CSV with a claim count and an exposure),
under the benchmark protocol: a test share by group, repeated over seeds, mean and bootstrap 95%
intervals of deviance, D² and normalised Gini for XGBoost, the standard GLM and the constant.

manage.py risk_benchmark --csv freMTPLmini.csv --count-col ClaimNb --exposure-col Exposure \
    --categorical Area,VehBrand --exclude DrivAge --seeds 0,1,2,3,4 [--json]
manage.py risk_benchmark --train-csv train.csv --test-csv test.csv --count-col ... # a given split

The fairness policy's forbidden attributes (apps/risk/fairness.py) are refused as features, as in
training; `--allow-feature NAME` overrides it for a measurement, and the output says so. Nothing
is stored: it measures the procedure, it does not make a model.
"""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from apps.risk import modeling
from apps.risk.fairness import forbidden_among
from apps.risk.services.training import DEFAULT_MIN_TRAINING_CLAIMS


def names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def seed_list(value: str) -> list[int]:
    try:
        seeds = [int(part) for part in names(value)]
    except ValueError:
        raise CommandError(f"--seeds takes comma-separated integers, not {value[:40]!r}") from None
    if not seeds:
        raise CommandError("--seeds is empty")
    return seeds


def read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path} is not a readable CSV: {str(exc)[:200]}") from None


class Command(BaseCommand):
    help = "Run the claim-frequency procedure (XGBoost, standard GLM, constant) on a CSV under the benchmark protocol."

    def add_arguments(self, parser):
        parser.add_argument("--csv", default="", dest="csv_path", help="one table, split by group")
        parser.add_argument("--train-csv", default="", help="with --test-csv: evaluate on this given split")
        parser.add_argument("--test-csv", default="")
        parser.add_argument("--count-col", required=True)
        parser.add_argument("--exposure-col", required=True)
        parser.add_argument("--categorical", default="", help="comma-separated categorical columns")
        parser.add_argument("--features", default="", help="comma-separated features (default: all other columns)")
        parser.add_argument("--exclude", default="", help="comma-separated columns that are not features (ids)")
        parser.add_argument("--group-col", default="", help="rows sharing it stay in one part (default: each row)")
        parser.add_argument("--test-share", type=float, default=modeling.DEFAULT_TEST_SHARE)
        parser.add_argument("--seeds", default="0", help="comma-separated seeds, one split and fit each")
        parser.add_argument("--min-claims", type=int, default=DEFAULT_MIN_TRAINING_CLAIMS,
                            help="fewest claims in the training part")  # fmt: skip
        parser.add_argument("--allow-feature", action="append", default=[],
                            help="use this forbidden attribute anyway (printed in the output)")  # fmt: skip
        parser.add_argument("--json", action="store_true", dest="as_json", help="end with one JSON line of figures")
        parser.add_argument("--json-out", default="", help="also write the figures to this file")

    def handle(self, *args, **o):
        frame, test_mask, source = self._table(o)
        count_col, exposure_col, group_col = o["count_col"], o["exposure_col"], o["group_col"]
        categorical_cols = names(o["categorical"])
        excluded = {count_col, exposure_col, *names(o["exclude"]), *([group_col] if group_col else [])}
        feature_cols = names(o["features"]) or [c for c in frame.columns if c not in excluded]
        unknown = [c for c in [*categorical_cols, *feature_cols, *([group_col] if group_col else [])] if c not in frame]
        if unknown:
            raise CommandError(f"column(s) not in {source}: {', '.join(unknown)}")
        if not_features := [c for c in categorical_cols if c not in feature_cols]:
            raise CommandError(f"categorical column(s) not among the features: {', '.join(not_features)}")
        allowed = {n for value in o["allow_feature"] for n in names(value)}
        forbidden = forbidden_among(feature_cols)
        if refused := [n for n in forbidden if n not in allowed]:
            raise CommandError(
                f"forbidden attribute(s) by the fairness policy: {', '.join(refused)} (leave them out with --exclude,"
                " or measure with them anyway with --allow-feature NAME, which the output reports)"
            )
        if not 0 < o["test_share"] < 1:
            raise CommandError(f"--test-share must be between 0 and 1, not {o['test_share']}")
        seeds = seed_list(o["seeds"])
        try:
            dataset = modeling.Dataset(frame=frame, features=feature_cols, count_col=count_col,
                                       exposure_col=exposure_col, categorical=categorical_cols,
                                       group_col=group_col or None)  # fmt: skip
            start = time.perf_counter()
            evaluation = modeling.evaluate(dataset, seeds=seeds, test_share=o["test_share"],
                                           min_claims=o["min_claims"], test_mask=test_mask)  # fmt: skip
            elapsed = time.perf_counter() - start
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        overridden = [n for n in forbidden if n in allowed]
        self.stdout.write(
            f"{source}: {len(frame):,} rows, features {', '.join(feature_cols)}"
            f"{' (categorical: ' + ', '.join(categorical_cols) + ')' if categorical_cols else ''}; "
            f"{len(seeds)} seed(s) in {elapsed:.1f} s"
        )
        if overridden:
            self.stdout.write(f"WARNING: forbidden attribute(s) used by --allow-feature: {', '.join(overridden)}")
        details = evaluation["details"]
        self.stdout.write(f"first seed ({seeds[0]}) in detail:")
        for line in modeling.comparison_lines(details["metrics"], details["size_tradeoff"], details["gate"]):
            self.stdout.write(line)
        self.stdout.write("")
        for line in modeling.protocol_lines(evaluation):
            self.stdout.write(line)
        summary = evaluation["summary"]
        better = summary["xgboost"]["mean_poisson_deviance"]["mean"] < summary["glm"]["mean_poisson_deviance"]["mean"]
        self.stdout.write(f"XGBoost {'beats' if better else 'does NOT beat'} the GLM on mean test deviance")
        figures = {
            "file": source, "rows": len(frame), "features": feature_cols, "categorical": categorical_cols,
            "allowed_forbidden_features": overridden, "seconds": round(elapsed, 2), **evaluation,
        }  # fmt: skip
        text = json.dumps(figures, default=_plain)
        if o["json_out"]:
            Path(o["json_out"]).write_text(text)
        if o["as_json"]:
            self.stdout.write(text)

    def _table(self, o) -> tuple[pd.DataFrame, np.ndarray | None, str]:
        if o["csv_path"] and (o["train_csv"] or o["test_csv"]):
            raise CommandError("give either --csv or --train-csv with --test-csv, not both")
        if o["csv_path"]:
            path = Path(o["csv_path"])
            return read_csv(path), None, path.name
        if not (o["train_csv"] and o["test_csv"]):
            raise CommandError("give --csv, or both --train-csv and --test-csv")
        train, test = read_csv(Path(o["train_csv"])), read_csv(Path(o["test_csv"]))
        if list(train.columns) != list(test.columns):
            raise CommandError("--train-csv and --test-csv must have the same columns in the same order")
        frame = pd.concat([train, test], ignore_index=True)
        mask = np.zeros(len(frame), dtype=bool)
        mask[len(train) :] = True
        return frame, mask, f"{Path(o['train_csv']).name} + {Path(o['test_csv']).name}"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
