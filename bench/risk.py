"""Risk benchmark: batch scoring of every driver (features read, predict, SHAP, bulk write) with
and without SHAP, against the naive per-driver loop, and the Celery overhead of the batch job.

    .venv/bin/python bench/risk.py                       # 100,000 drivers, naive loop on 1,000
    .venv/bin/python bench/risk.py --drivers 20000 --naive 500

Data: drivers with 90-day features drawn from a latent-aggressiveness generator (the one the
risk tests use) and a year of Poisson claims after them; a model of the production size is
trained on them (XGBoost count:poisson, <= 100 trees of depth 3) and activated. The physics
simulator of the telematics app runs about 120 driver-days per second here, so 100,000 drivers
x 90 days (about 21 hours) is out of reach; it is used by the demo, not by this benchmark.

The Celery part starts a real worker (solo pool, its own broker database on the same Redis) and
times the same job queued through `job_start` against the in-process run.
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("FLEETOPS_BENCH_DB", "fleetops_bench_risk")
BROKER = os.environ.get("RISK_BENCH_BROKER", "redis://127.0.0.1:56379/11")
os.environ["CELERY_BROKER_URL"] = BROKER
os.environ["CELERY_RESULT_BACKEND"] = BROKER
# A fixed artifact folder: the worker process must find the model the benchmark trained.
os.environ.setdefault("ARTIFACT_ROOT", str(Path(__file__).resolve().parent.parent / "var" / "bench-artifacts"))

from _common import ROOT, peak_rss_mb, report, setup_django  # noqa: E402

AS_OF = dt.date(2025, 1, 31)
TODAY = dt.date(2026, 2, 1)
EMAIL = "bench-risk-{}@drivers.fleetops.test"


def ensure_drivers(n: int) -> list[int]:
    """n bench drivers with features as of AS_OF and claims in the following year (created once)."""
    import numpy as np
    from django.db import transaction
    from django.utils import timezone

    from apps.customers.models import Customer
    from apps.risk.models import Claim
    from apps.telematics.models import DriverFeatures
    from tests.risk.simulation import driver_frame

    existing = list(
        Customer.objects.filter(email__startswith="bench-risk-").order_by("pk").values_list("pk", flat=True)
    )
    if len(existing) >= n and DriverFeatures.objects.filter(driver_id__in=existing[:n], as_of=AS_OF).count() == n:
        return existing[:n]
    print(f"creating {n:,} bench drivers with features and claims ...", flush=True)
    start = time.perf_counter()
    with transaction.atomic():
        DriverFeatures.objects.filter(driver__email__startswith="bench-risk-").delete()
        Claim.objects.filter(driver__email__startswith="bench-risk-").delete()
        from apps.risk.models import RiskScore

        RiskScore.objects.filter(driver__email__startswith="bench-risk-").delete()
        Customer.objects.filter(email__startswith="bench-risk-").delete()
        customers = Customer.objects.bulk_create(
            [Customer(first_name="Bench", last_name=f"Driver {i}", email=EMAIL.format(i)) for i in range(n)],
            batch_size=5_000,
        )
        ids = np.array([c.pk for c in customers])
        _, features, frequency, rng = driver_frame(n, seed=2026)
        DriverFeatures.objects.bulk_create(
            [
                DriverFeatures(
                    driver_id=int(ids[i]),
                    as_of=AS_OF,
                    window_days=90,
                    trips=40,
                    hours=float(features["km"][i]) / 45,
                    **{name: float(values[i]) for name, values in features.items()},
                )
                for i in range(n)
            ],
            batch_size=5_000,
        )
        counts = rng.poisson(frequency)
        tz = timezone.get_current_timezone()
        first = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time(12), tzinfo=tz)
        claims = [
            Claim(driver_id=int(ids[i]), occurred_at=first + dt.timedelta(days=int(d)), reported_at=first
                  + dt.timedelta(days=int(d)))
            for i in np.nonzero(counts)[0]
            for d in rng.integers(0, 364, counts[i])
        ]  # fmt: skip
        Claim.objects.bulk_create(claims, batch_size=5_000)
    print(f"  done in {time.perf_counter() - start:.0f} s ({len(claims):,} claims)", flush=True)
    return ids.tolist()


def ensure_model():
    from apps.risk.models import RiskModel
    from apps.risk.services import risk_model_activate, risk_model_train

    start = time.perf_counter()
    model = risk_model_train(as_of=AS_OF, today=TODAY, family="xgboost")  # the TreeSHAP path is what is timed
    trained_in = time.perf_counter() - start
    if not model.is_active:
        # The benchmark measures scoring speed, not the model: it activates whatever the gate says.
        model = risk_model_activate(model=model, force_reason="bench/risk.py: scoring speed benchmark")
    RiskModel.objects.exclude(pk=model.pk).filter(is_active=True).update(is_active=False)
    return model, trained_in


def clear_scores(model) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM risk_riskscore")  # the benchmark's own database
        cursor.execute("VACUUM ANALYZE risk_riskscore")  # no dead rows carried into the next timing


FOLLOW_UP = {"seconds": 0.0, "calls": 0}


def time_pricing_follow_ups() -> None:
    """Wraps pricing's driver_scores_changed (risk's scores_changed hook, sent on commit) to count
    its share."""
    import apps.pricing.services as pricing
    from apps.risk.hooks import scores_changed

    real = pricing.driver_scores_changed

    def timed(*, driver_ids):
        start = time.perf_counter()
        try:
            return real(driver_ids=driver_ids)
        finally:
            FOLLOW_UP["seconds"] += time.perf_counter() - start
            FOLLOW_UP["calls"] += 1

    scores_changed.disconnect(real)
    scores_changed.connect(timed)


def batch(model, *, explain: bool) -> tuple[float, float, dict]:
    from apps.risk.services import drivers_score

    clear_scores(model)
    FOLLOW_UP.update(seconds=0.0, calls=0)
    start = time.perf_counter()
    result = drivers_score(model=model, as_of=AS_OF, explain=explain, chunk_size=1000)
    return time.perf_counter() - start, FOLLOW_UP["seconds"], result


def naive_loop(model, driver_ids: list[int], *, explain: bool) -> tuple[float, float]:
    """What a naive service does per driver: read its features row with the ORM, predict,
    explain, save it with the ORM and hand it to pricing. It gets the same single-thread
    prediction as the batch, so the ratio measures batching, not threading."""
    import numpy as np
    import xgboost as xgb
    from django.db import transaction

    from apps.risk import modeling, scoring
    from apps.risk.models import RiskScore
    from apps.telematics.models import DriverFeatures

    clear_scores(model)
    names = list(model.feature_names)
    mean = model.model_card["portfolio_mean_frequency"]
    quantiles = model.model_card["feature_quantiles"]
    FOLLOW_UP.update(seconds=0.0, calls=0)
    start = time.perf_counter()
    for driver_id in driver_ids:
        with transaction.atomic():
            row = DriverFeatures.objects.get(driver_id=driver_id, as_of=AS_OF, window_days=model.window_days)
            values = np.array([[getattr(row, n) for n in names]])
            booster = scoring.model_booster(model)
            booster.set_param({"nthread": 1})
            base = np.full(1, modeling.booster_base(booster))
            matrix = xgb.DMatrix(values, base_margin=base, feature_names=names, nthread=1)
            margin = booster.predict(matrix, output_margin=True)
            expected = float(modeling.corrected(np.exp(margin), model.model_card.get("calibration_correction"))[0])
            rr = expected / mean
            contributions, base, reasons = {}, 0.0, []
            if explain:
                contribs = booster.predict(matrix, pred_contribs=True)
                contributions = dict(zip(names, contribs[0, :-1].round(6).tolist(), strict=True))
                base = float(contribs[0, -1])
                reasons = scoring.reasons_for(
                    feature_names=names, values=values, contributions=contribs[:, :-1], quantiles=quantiles
                )[0]
            RiskScore.objects.create(
                driver_id=driver_id,
                model=model,
                as_of=AS_OF,
                expected_claims_per_year=expected,
                relative_risk=rr,
                safety_score=int(scoring.safety_score(np.array([rr]))[0]),
                band=scoring.band(np.array([rr]))[0],
                feature_values=[getattr(row, n) for n in names],
                contributions=contributions,
                base_value=base,
                reasons=reasons,
            )
            from apps.risk.hooks import scores_changed

            transaction.on_commit(lambda d=driver_id: scores_changed.send(driver_ids=[d]))
    return time.perf_counter() - start, FOLLOW_UP["seconds"]


def purge_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()  # the benchmark's own broker database


def through_celery(model, *, explain: bool, warm_driver: int) -> dict:
    """The same batch job queued through job_start and run by a real Celery worker."""
    from apps.jobs.models import JobRun
    from apps.jobs.services import job_start

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fleetops.settings.base"}
    purge_broker()  # requotes queued by the in-process runs are not this job's work
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "fleetops", "worker", "-P", "solo", "-c", "1",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # warm-up: the worker imports xgboost and loads the model on its first job
        clear_scores(model)
        warm = job_start(kind="risk.score_drivers", parameters={"driver_ids": [warm_driver], "chunk_size": 7})
        _wait(warm.pk, timeout=120)
        clear_scores(model)
        params = {"explain": explain, "chunk_size": 1000, "as_of": AS_OF.isoformat()}
        start = time.perf_counter()
        run = job_start(kind="risk.score_drivers", parameters=params)
        run = _wait(run.pk, timeout=1800)
        wall = time.perf_counter() - start
        if run.status != JobRun.Status.SUCCEEDED:
            raise RuntimeError(f"celery run ended {run.status}: {run.error[:500]}")
        return {
            "wall": wall,
            "in_task": (run.finished_at - run.started_at).total_seconds(),
            "queue_wait": (run.started_at - run.created_at).total_seconds(),
            "written": run.result["written"],
        }
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _wait(run_id: int, *, timeout: float):
    from apps.jobs.models import JobRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = JobRun.objects.get(pk=run_id)
        if run.status not in JobRun.LIVE:
            return run
        time.sleep(0.05)
    raise TimeoutError(f"job run #{run_id} did not finish in {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=1_000)
    parser.add_argument("--no-celery", action="store_true")
    args = parser.parse_args()

    setup_django()
    ids = ensure_drivers(args.drivers)
    model, trained_in = ensure_model()
    card = model.model_card
    print(f"model {model.version}: {card['params']['trees']} trees depth {card['params']['max_depth']}, "
          f"trained on {card['data']['drivers']:,} drivers in {trained_in:.0f} s", flush=True)  # fmt: skip

    from apps.risk import scoring

    scoring.model_booster(model)  # loaded once per process, as in a worker
    time_pricing_follow_ups()
    shap_s, shap_follow, shap_result = batch(model, explain=True)
    plain_s, plain_follow, plain_result = batch(model, explain=False)
    naive_ids = ids[: args.naive]
    naive_shap_s, naive_shap_follow = naive_loop(model, naive_ids, explain=True)
    naive_plain_s, naive_plain_follow = naive_loop(model, naive_ids, explain=False)
    n, k = shap_result["scored"], len(naive_ids)
    rate = {
        "batch_shap": n / shap_s,
        "batch_plain": plain_result["scored"] / plain_s,
        "naive_shap": k / naive_shap_s,
        "naive_plain": k / naive_plain_s,
        "batch_shap_own": n / (shap_s - shap_follow),
        "batch_plain_own": n / (plain_s - plain_follow),
        "naive_shap_own": k / (naive_shap_s - naive_shap_follow),
        "naive_plain_own": k / (naive_plain_s - naive_plain_follow),
    }

    def line(seconds, follow, rate_all, rate_own):
        return (
            f"{seconds:.2f} s = {rate_all:,.0f} drivers/s; of which pricing follow-ups {follow:.2f} s; "
            f"risk alone {rate_own:,.0f} drivers/s"
        )

    rows = [
        ("drivers scored", f"{n:,} (written {shap_result['written']:,}, chunks {shap_result['chunks']})"),
        ("batch with SHAP", line(shap_s, shap_follow, rate["batch_shap"], rate["batch_shap_own"])
         + "  (target < 60 s)"),
        ("batch without SHAP", line(plain_s, plain_follow, rate["batch_plain"], rate["batch_plain_own"])
         + "  (target >= 50,000/s)"),
        (f"naive loop with SHAP ({k:,})", line(naive_shap_s, naive_shap_follow, rate["naive_shap"],
                                                rate["naive_shap_own"])),
        (f"naive loop without SHAP ({k:,})", line(naive_plain_s, naive_plain_follow, rate["naive_plain"],
                                                   rate["naive_plain_own"])),
        ("ratio with SHAP", f"{rate['batch_shap'] / rate['naive_shap']:.1f}x (risk alone "
         f"{rate['batch_shap_own'] / rate['naive_shap_own']:.1f}x)  (target >= 5x)"),
        ("ratio without SHAP", f"{rate['batch_plain'] / rate['naive_plain']:.1f}x (risk alone "
         f"{rate['batch_plain_own'] / rate['naive_plain_own']:.1f}x)  (target >= 50x)"),
    ]  # fmt: skip
    for row in card.get("size_tradeoff", []):
        rows.append(
            (f"size: {row['model']} {row['trees']}x depth {row['max_depth']}",
             f"test deviance {row['test_mean_poisson_deviance']:.4f}, norm. Gini {row['test_normalised_gini']:.3f}, "
             f"pred_contribs {row['pred_contribs_rows_per_s_1_thread']:,} rows/s (1 thread)")
        )  # fmt: skip
    if not args.no_celery:
        for explain, direct in ((True, shap_s), (False, plain_s)):
            c = through_celery(model, explain=explain, warm_driver=ids[0])
            overhead = (c["wall"] - c["in_task"]) / c["wall"]
            rows.append(
                (f"celery job {'with' if explain else 'without'} SHAP",
                 f"wall {c['wall']:.2f} s = queue wait {c['queue_wait']:.2f} s + in task {c['in_task']:.2f} s + rest: "
                 f"Celery overhead {overhead:.1%} (target < 5%); in-process run {direct:.2f} s")
            )  # fmt: skip
    rows.append(("peak RSS", f"{peak_rss_mb():.0f} MB"))
    report("risk: batch scoring", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
