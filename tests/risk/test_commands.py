import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.jobs.models import JobRun
from apps.risk.models import RiskModel, RiskScore
from tests.risk.simulation import AS_OF, driver_frame


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_train_activate_and_score_from_the_command_line(simulated, artifact_root):
    ids, _ = simulated
    output = run("train_risk_model", "--as-of", AS_OF.isoformat(), "--follow-days", "365")
    model = RiskModel.objects.get()
    assert f"model {model.version} (inactive)" in output
    assert "mean Poisson deviance" in output and "normalised Gini" in output and "decile 10" in output
    assert JobRun.objects.get(kind="risk.train").status == JobRun.Status.SUCCEEDED

    assert "deployed family glm (glm-spline-poisson)" in output and "family: XGBoost if" in output
    output = run("activate_risk_model", model.version)
    assert f"risk model {model.version} is now active\n" in output
    assert "vs constant: deviance difference" in output
    output = run("score_drivers", "--driver-ids", f"{ids[0]},{ids[1]}")
    assert '"written": 2' in output
    output = run("score_drivers", "--all", "--chunk-size", "250")
    assert f'"written": {len(ids) - 2}' in output
    assert RiskScore.objects.count() == len(ids)
    run_ = JobRun.objects.filter(kind="risk.score_drivers").order_by("-pk").first()
    assert run_.progress_done == run_.progress_total == len(ids) - 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score_drivers", "--driver-ids", "1,x"], "comma-separated integers"),
        (["score_drivers", "--all"], "no active risk model"),
        (["train_risk_model", "--as-of", "yesterday"], "as_of must be a date"),
    ],
)
def test_commands_refuse_bad_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not RiskScore.objects.exists() and not RiskModel.objects.exists()


@pytest.fixture
def claims_csv(tmp_path):
    a, features, frequency, rng = driver_frame(2500, seed=9)
    frame = pd.DataFrame(features)
    frame["region"] = np.where(a > 0.5, "north", rng.choice(["south", "east"], len(a)))
    frame["exposure"] = rng.uniform(0.2, 1.0, len(a))
    frame["claim_count"] = rng.poisson(frequency * frame["exposure"])
    frame["policy_id"] = np.arange(len(a))
    path = tmp_path / "claims.csv"
    frame.to_csv(path, index=False)
    return path


def test_risk_benchmark_runs_the_same_procedure_on_a_csv(claims_csv, tmp_path, db):
    out_json = tmp_path / "metrics.json"
    output = run(
        "risk_benchmark", "--csv", str(claims_csv), "--count-col", "claim_count", "--exposure-col", "exposure",
        "--categorical", "region", "--group-col", "policy_id", "--seeds", "0,1", "--min-claims", "50",
        "--json", "--json-out", str(out_json),
    )  # fmt: skip
    assert "2,500 rows" in output and "(categorical: region)" in output
    assert "policy_id" not in output.split("features ")[1].split(";")[0]
    assert "mean Poisson deviance" in output
    assert "beat" in output
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures == json.loads(out_json.read_text())
    assert figures["seeds"] == [0, 1] and figures["test_share"] == 0.33
    for name in ("xgboost", "glm", "constant"):
        for metric in ("mean_poisson_deviance", "d2", "normalised_gini"):
            row = figures["summary"][name][metric]
            assert row["ci95"][0] <= row["mean"] <= row["ci95"][1], (name, metric)
    assert figures["summary"]["xgboost"]["deviance_ratio_to_glm"]["mean"] > 0
    assert [r["seed"] for r in figures["per_seed"]] == [0, 1]
    assert all(not r["cap_reached"] for r in figures["per_seed"])
    assert not RiskModel.objects.exists()


def test_risk_benchmark_refuses_forbidden_attributes_unless_allowed_and_says_so(claims_csv, tmp_path):
    frame = pd.read_csv(claims_csv)
    frame["DrivAge"] = np.random.default_rng(0).integers(18, 80, len(frame))
    path = tmp_path / "with_age.csv"
    frame.to_csv(path, index=False)
    args = ["risk_benchmark", "--csv", str(path), "--count-col", "claim_count", "--exposure-col", "exposure",
            "--categorical", "region", "--exclude", "policy_id", "--min-claims", "50"]  # fmt: skip
    with pytest.raises(CommandError, match=r"forbidden attribute.*DrivAge"):
        run(*args)
    output = run(*args, "--allow-feature", "DrivAge", "--json")
    assert "WARNING: forbidden attribute(s) used by --allow-feature: DrivAge" in output
    assert json.loads(output.strip().splitlines()[-1])["allowed_forbidden_features"] == ["DrivAge"]


def test_risk_benchmark_evaluates_a_given_split(claims_csv, tmp_path):
    frame = pd.read_csv(claims_csv)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:1700].to_csv(train, index=False)
    frame.iloc[1700:].to_csv(test, index=False)
    output = run("risk_benchmark", "--train-csv", str(train), "--test-csv", str(test), "--count-col", "claim_count",
                 "--exposure-col", "exposure", "--categorical", "region", "--group-col", "policy_id",
                 "--min-claims", "50", "--json")  # fmt: skip
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["details"]["metrics"]["split"]["test"]["rows"] == 800
    assert figures["per_seed"][0]["test_claims"] == frame.iloc[1700:]["claim_count"].sum()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--count-col", "nope", "--exposure-col", "exposure"], "missing column"),
        (["--count-col", "claim_count", "--exposure-col", "exposure", "--categorical", "zzz"], "not in claims.csv"),
        (["--count-col", "claim_count", "--exposure-col", "exposure"], "region has missing or non-numeric"),
        (
            ["--count-col", "claim_count", "--exposure-col", "exposure", "--categorical", "region", "--seeds", "a"],
            "--seeds takes comma-separated integers",
        ),
        (
            [
                "--count-col",
                "claim_count",
                "--exposure-col",
                "exposure",
                "--categorical",
                "region",
                "--test-share",
                "1.5",
            ],
            "--test-share must be between 0 and 1",
        ),
        (
            [
                "--count-col",
                "claim_count",
                "--exposure-col",
                "exposure",
                "--categorical",
                "region",
                "--min-claims",
                "100000",
            ],
            "at least 100000 are needed",
        ),
    ],
)
def test_risk_benchmark_refuses_bad_tables(claims_csv, extra, message):
    with pytest.raises(CommandError, match=message):
        run("risk_benchmark", "--csv", str(claims_csv), *extra)


def test_risk_benchmark_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("risk_benchmark", "--csv", str(tmp_path / "x.csv"), "--count-col", "a", "--exposure-col", "b")
