import io

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

    assert "is now active" in run("activate_risk_model", model.version)
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
        "--categorical", "region", "--group-col", "policy_id", "--no-size-tradeoff", "--json", str(out_json),
    )  # fmt: skip
    assert "2,500 rows" in output and "(categorical: region)" in output
    assert "policy_id" not in output.split("features ")[1].split(";")[0]
    assert "mean Poisson deviance" in output
    assert "beat" in output
    assert '"xgboost"' in out_json.read_text()
    assert not RiskModel.objects.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--count-col", "nope", "--exposure-col", "exposure"], "missing column"),
        (["--count-col", "claim_count", "--exposure-col", "exposure", "--categorical", "zzz"], "not in claims.csv"),
        (["--count-col", "claim_count", "--exposure-col", "exposure"], "region has missing or non-numeric"),
    ],
)
def test_risk_benchmark_refuses_bad_tables(claims_csv, extra, message):
    with pytest.raises(CommandError, match=message):
        run("risk_benchmark", "--csv", str(claims_csv), *extra)


def test_risk_benchmark_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("risk_benchmark", "--csv", str(tmp_path / "x.csv"), "--count-col", "a", "--exposure-col", "b")
