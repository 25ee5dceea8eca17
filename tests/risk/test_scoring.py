import math
import re

import numpy as np
import pytest
from django.core.cache import cache

from apps.alerts.models import OperationalEvent
from apps.common.exceptions import ApplicationError
from apps.jobs.models import JobRun
from apps.jobs.services import job_execute, job_start
from apps.risk import scale, scoring
from apps.risk.models import RiskScore
from apps.risk.services import scores as services
from apps.telematics.models import DriverFeatures
from tests.risk.simulation import AS_OF


def test_safety_score_is_a_documented_decreasing_map_of_relative_risk():
    rr = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 100.0])
    assert scale.safety_score(rr).tolist() == [100, 90, 69, 50, 36, 20, 0]
    grid = np.linspace(0, 10, 2001)
    assert (np.diff(scale.safety_score(grid)) <= 0).all()
    assert scale.band(np.array([0.5, 0.79, 0.8, 1.09, 1.1, 1.49, 1.5, 4.0])).tolist() == [
        "low", "low", "mild", "mild", "medium", "medium", "high", "high",
    ]  # fmt: skip


def test_reasons_read_in_plain_words():
    names = ["harsh_brake_per_100km", "speeding_share", "night_share"]
    # 101 population points 0.00, 0.01, ..., 1.00: 88 of them lie above 0.12 (87%), 90 below 0.9 (89%)
    quantiles = {name: np.linspace(0.0, 1.0, 101).tolist() for name in names}
    values = np.array([[3.2, 0.12, 0.5], [0.05, 0.9, 0.5]])
    contributions = np.array([[math.log(1.12), math.log(0.95), 0.001], [math.log(0.8), math.log(1.3), 0.0]])
    reasons = scoring.reasons_for(feature_names=names, values=values, contributions=contributions, quantiles=quantiles)
    assert [r["text"] for r in reasons[0]] == [
        "harsh braking 3.2 per 100 km, more than 99% of drivers: +12% expected claims",
        "speeding 12.0% of driving time, less than 87% of drivers: \u22125% expected claims",
    ]  # the night share's 0.1% effect is not worth a sentence
    assert [r["feature"] for r in reasons[1]] == ["speeding_share", "harsh_brake_per_100km"]
    assert reasons[1][0]["text"] == "speeding 90.0% of driving time, more than 89% of drivers: +30% expected claims"
    assert reasons[1][1]["effect"] == pytest.approx(-0.2)


def test_reasons_write_thousands_with_a_separator():
    quantiles = {"km": np.linspace(0.0, 6000.0, 101).tolist()}
    values, contributions = np.array([[3000.0]]), np.array([[math.log(0.9)]])
    reasons = scoring.reasons_for(feature_names=["km"], values=values, contributions=contributions, quantiles=quantiles)
    assert reasons[0][0]["text"].startswith("distance driven 3,000 km in the window")


def test_batch_scores_every_driver_with_contributions_and_reasons(active_model, simulated):
    ids, _ = simulated
    result = services.drivers_score(chunk_size=250)

    assert result["written"] == result["scored"] == len(ids)
    assert result["chunks"] == 3
    assert RiskScore.objects.count() == len(ids)
    mean = active_model.model_card["portfolio_mean_frequency"]
    pattern = re.compile(r"^[a-z -]+ [0-9.,]+ ?.+, (more than \d+% of drivers|less than \d+% of drivers|about the same"
                         r" as most drivers): [+\u2212]\d+% expected claims$")  # fmt: skip
    features = {f.driver_id: f for f in DriverFeatures.objects.filter(as_of=AS_OF)}
    sample = list(RiskScore.objects.all()[:50])
    # a driver near the median of every supported feature has nothing material to be told
    assert sum(1 for score in sample if score.reasons) >= 25
    for score in sample:
        margin = math.log(score.expected_claims_per_year)
        assert score.base_value + sum(score.contributions.values()) == pytest.approx(margin, abs=1e-4)
        assert score.relative_risk == pytest.approx(score.expected_claims_per_year / mean)
        assert score.safety_score == scale.safety_score(np.array([score.relative_risk]))[0]
        assert score.features["harsh_brake_per_100km"] == features[score.driver_id].harsh_brake_per_100km
        assert len(score.reasons) <= 3
        for reason in score.reasons:
            assert pattern.match(reason["text"]), reason["text"]
            assert reason["effect"] == pytest.approx(math.exp(score.contributions[reason["feature"]]) - 1, abs=1e-3)


def test_batch_scoring_twice_writes_nothing_new(active_model, simulated):
    first = services.drivers_score(chunk_size=200)
    before = list(RiskScore.objects.order_by("pk").values_list("pk", "created_at", "safety_score"))
    again = services.drivers_score(chunk_size=200)
    assert first["written"] == len(before)
    assert again["scored"] == again["written"] == 0
    assert list(RiskScore.objects.order_by("pk").values_list("pk", "created_at", "safety_score")) == before


def test_the_write_itself_does_nothing_on_conflict(active_model, simulated):
    from apps.risk import selectors

    todo = selectors.drivers_to_score(model=active_model, as_of=AS_OF)[:100]
    chunk_ids, values = selectors.features_chunk(model=active_model, as_of=AS_OF, driver_ids=todo)
    chunk = scoring.scores_compute(model=active_model, driver_ids=chunk_ids, values=values, explain=True)
    assert len(scoring.scores_write(model=active_model, as_of=AS_OF, chunk=chunk)) == 100
    assert scoring.scores_write(model=active_model, as_of=AS_OF, chunk=chunk) == []
    assert RiskScore.objects.count() == 100


def test_a_killed_and_restarted_job_ends_with_one_score_per_driver(active_model, simulated, monkeypatch):
    ids, _ = simulated
    real_follow_up = services._scores_follow_up
    calls = {"n": 0}

    def dies_in_the_third_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")  # after the chunk's INSERT, inside its transaction
        return real_follow_up(**kwargs)

    monkeypatch.setattr(services, "_scores_follow_up", dies_in_the_third_chunk)
    run = job_start(kind="risk.score_drivers", parameters={"chunk_size": 100}, enqueue=False)
    run = job_execute(run_id=run.pk)
    assert run.status == JobRun.Status.FAILED
    assert "worker killed" in run.error
    assert RiskScore.objects.count() == 200  # two whole chunks; the third rolled back
    assert run.progress_done == 200

    monkeypatch.setattr(services, "_scores_follow_up", real_follow_up)
    rerun = job_execute(run_id=job_start(kind="risk.score_drivers", parameters={"chunk_size": 100}, enqueue=False).pk)
    assert rerun.status == JobRun.Status.SUCCEEDED
    assert rerun.progress_total == rerun.progress_done == len(ids) - 200
    assert rerun.result["written"] == len(ids) - 200
    assert RiskScore.objects.count() == len(ids)
    assert RiskScore.objects.values("driver_id").distinct().count() == len(ids)


def test_a_cancelled_job_stops_between_chunks_and_resumes(active_model, simulated):
    ids, _ = simulated
    run = job_start(kind="risk.score_drivers", parameters={"chunk_size": 100}, enqueue=False)
    JobRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert job_execute(run_id=run.pk).status == JobRun.Status.CANCELLED
    assert RiskScore.objects.count() == 0
    rerun = job_execute(run_id=job_start(kind="risk.score_drivers", parameters={"chunk_size": 100}, enqueue=False).pk)
    assert rerun.status == JobRun.Status.SUCCEEDED
    assert RiskScore.objects.count() == len(ids)


def test_batch_reads_features_once_per_chunk(active_model, simulated, django_assert_max_num_queries):
    # ids to score, then per chunk: features, temp table, truncate, copy, insert (+ savepoints)
    with django_assert_max_num_queries(4 + 7 * 6):
        services.drivers_score(chunk_size=100)


def test_scoring_some_drivers_only(active_model, simulated):
    ids, _ = simulated
    chosen = [int(ids[3]), int(ids[10])]
    result = services.drivers_score(driver_ids=chosen)
    assert result["written"] == 2
    assert sorted(RiskScore.objects.values_list("driver_id", flat=True)) == sorted(chosen)


def test_scoring_without_shap_leaves_contributions_empty(active_model, simulated):
    services.drivers_score(explain=False, driver_ids=[int(simulated[0][0])])
    score = RiskScore.objects.get()
    assert score.contributions == {} and score.reasons == []
    assert score.expected_claims_per_year > 0


def test_scoring_refuses_without_an_active_model(simulated):
    with pytest.raises(ApplicationError, match="no active risk model"):
        services.drivers_score()
    assert RiskScore.objects.count() == 0


def test_changed_scores_are_handed_to_pricing_on_commit(
    active_model, simulated, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.pricing.services import driver_scores_changed
    from apps.risk.hooks import scores_changed

    assert driver_scores_changed in scores_changed.receivers  # connected by PricingConfig.ready
    ids, _ = simulated
    seen = []
    # A recorder in place of pricing's receiver: what pricing does with the scores is tested there.
    monkeypatch.setattr(scores_changed, "_receivers", [lambda *, driver_ids: seen.append(driver_ids)])
    chosen = [int(i) for i in ids[:5]]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.drivers_score(driver_ids=chosen)
        assert seen == []  # nothing before the commit
    assert callbacks
    assert sorted(d for call in seen for d in call) == chosen


# --- event-driven rescoring ------------------------------------------------------------------------


def test_rescore_request_is_debounced_per_driver(
    active_model, simulated, clear_debounce, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.risk import tasks

    driver_id = int(simulated[0][0])
    clear_debounce(driver_id)
    enqueued = []
    real_apply_async = tasks.driver_rescore.apply_async

    def recording_apply_async(*args, **kwargs):
        enqueued.append(kwargs)
        return real_apply_async(*args, **kwargs)

    monkeypatch.setattr(tasks.driver_rescore, "apply_async", recording_apply_async)
    with django_capture_on_commit_callbacks(execute=True):
        services.driver_rescore_requested(driver_id=driver_id)
        services.driver_rescore_requested(driver_id=driver_id)
        services.driver_rescore_requested(driver_id=int(simulated[0][1]))  # another driver is not debounced
    assert [e["args"] for e in enqueued] == [[driver_id], [int(simulated[0][1])]]
    assert enqueued[0]["countdown"] == services.RESCORE_DEBOUNCE_SECONDS
    assert RiskScore.objects.filter(driver_id=driver_id).count() == 1
    clear_debounce(driver_id, int(simulated[0][1]))


def test_rescore_request_survives_a_redis_outage(
    simulated, clear_debounce, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.risk import tasks

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(tasks.driver_rescore, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.driver_rescore_requested(driver_id=int(simulated[0][0]))  # no exception reaches the caller
    assert len(callbacks) == 1  # it tried to enqueue (the batch job catches up if that fails)


def test_rescore_without_an_active_model_does_nothing(simulated):
    assert services.driver_rescore(driver_id=int(simulated[0][0])) is None
    assert RiskScore.objects.count() == 0


def test_rescore_replaces_the_days_score_only_when_features_changed(active_model, simulated):
    driver_id = int(simulated[0][0])
    first = services.driver_rescore(driver_id=driver_id)
    same = services.driver_rescore(driver_id=driver_id)
    assert same.pk == first.pk and same.created_at == first.created_at
    DriverFeatures.objects.filter(driver_id=driver_id, as_of=AS_OF).update(harsh_brake_per_100km=25.0)
    changed = services.driver_rescore(driver_id=driver_id)
    assert changed.pk == first.pk
    assert changed.features["harsh_brake_per_100km"] == 25.0
    assert changed.expected_claims_per_year >= first.expected_claims_per_year
    assert RiskScore.objects.filter(driver_id=driver_id).count() == 1


def test_worsening_into_the_high_band_opens_one_safety_event(active_model, simulated):
    ids, latent = simulated
    driver_id = int(ids[np.argmax(latent)])
    services.driver_rescore(driver_id=driver_id)
    assert RiskScore.objects.get(driver_id=driver_id).band == "high"
    assert not OperationalEvent.objects.exists()  # a first score is not a worsening

    worst = {"harsh_brake_per_100km": 30.0, "harsh_accel_per_100km": 20.0, "harsh_corner_per_100km": 20.0,
             "speeding_share": 0.6, "phone_use_per_hour": 400.0, "night_share": 0.5}  # fmt: skip
    mild = {"harsh_brake_per_100km": 0.5, "harsh_accel_per_100km": 0.3, "harsh_corner_per_100km": 0.3,
            "speeding_share": 0.01, "phone_use_per_hour": 0.0, "night_share": 0.0}  # fmt: skip
    for _ in range(2):
        DriverFeatures.objects.filter(driver_id=driver_id).update(**mild)
        assert services.driver_rescore(driver_id=driver_id).band in {"low", "mild"}
        DriverFeatures.objects.filter(driver_id=driver_id).update(**worst)
        assert services.driver_rescore(driver_id=driver_id).band == "high"
    event = OperationalEvent.objects.get()
    assert (event.event_type, event.entity_type, event.entity_id) == ("safety", "customers.customer", str(driver_id))
    assert event.status == "open" and event.occurrences == 2


def test_event_rescoring_brings_the_drivers_features_up_to_today_first(active_model, simulated):
    import datetime as dt

    from django.utils import timezone

    from apps.customers.models import Customer
    from tests.telematics.factories import TripFactory

    driver = Customer.objects.get(pk=int(simulated[0][0]))
    now = timezone.now()
    for hours in (3, 5):  # two trips of today, already featured, with a lot of harsh braking
        TripFactory(
            driver=driver, started_at=now - dt.timedelta(hours=hours), distance_km=20.0, moving_s=1800, idle_s=120,
            feature_status="done", harsh_brake_count=6, score=40,
        )  # fmt: skip
    score = services.driver_rescore(driver_id=driver.pk)

    today = timezone.localdate()
    assert score.as_of == today
    fresh = DriverFeatures.objects.get(driver=driver, as_of=today, window_days=active_model.window_days)
    assert fresh.trips == 2 and fresh.km == pytest.approx(40.0)
    assert fresh.harsh_brake_per_100km == pytest.approx(30.0)  # 12 brakes over 40 km
    assert score.features["harsh_brake_per_100km"] == pytest.approx(30.0)
    # Only this driver got a row for today; the batch default stays on the last complete day.
    assert DriverFeatures.objects.filter(as_of=today).count() == 1
    assert services.drivers_score(driver_ids=[int(simulated[0][1])])["as_of"] == str(AS_OF)


def test_the_relative_risk_of_a_safety_score_inverts_the_score():
    for score in (1, 30, 50, 70, 88, 99, 100):
        assert scale.safety_score(np.array([scale.relative_risk_for_safety_score(score)]))[0] == score
    with pytest.raises(ValueError):
        scale.relative_risk_for_safety_score(0)


def test_the_bands_on_the_safety_scale_meet_where_the_relative_risk_edges_are():
    ranges = scale.band_safety_ranges()
    assert [name for name, _, _ in ranges] == ["low", "mild", "medium", "high"]
    assert [(round(lo, 2), round(hi, 2)) for _, lo, hi in ranges] == [
        (77.85, 100.0), (65.03, 77.85), (50.0, 65.03), (0.0, 50.0),
    ]  # fmt: skip
    for name, lo, hi in ranges:  # a score inside a range is in that band
        middle = scale.relative_risk_for_safety_score((lo + hi) / 2)
        assert scale.band(np.array([middle]))[0] == name


def test_features_chunk_reads_exact_values_in_model_order(active_model, simulated):
    from apps.risk import selectors

    todo = selectors.drivers_to_score(model=active_model, as_of=AS_OF)[:50]
    chunk_ids, values = selectors.features_chunk(model=active_model, as_of=AS_OF, driver_ids=todo[::-1])
    assert chunk_ids.tolist() == sorted(todo.tolist())  # sorted, whatever order they were asked in
    rows = {f.driver_id: f for f in DriverFeatures.objects.filter(driver_id__in=todo, as_of=AS_OF, window_days=90)}
    for i, driver_id in enumerate(chunk_ids.tolist()):
        assert values[i].tolist() == [getattr(rows[driver_id], n) for n in active_model.feature_names]  # bit for bit
    nobody_ids, nobody_values = selectors.features_chunk(model=active_model, as_of=AS_OF, driver_ids=[-1])
    assert nobody_ids.shape == (0,) and nobody_values.shape == (0, len(active_model.feature_names))


def test_binary_feature_rows_with_a_null_are_refused(db):
    from django.db import connection

    from apps.risk.selectors import _fixed_rows

    def payload(select: str) -> bytes:
        with connection.cursor() as cursor, cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            return b"".join(bytes(block) for block in copy)

    ids, values = _fixed_rows(payload("SELECT 7::bigint, 1.5::float8, -2::float8"), 2)
    assert ids.tolist() == [7] and values.tolist() == [[1.5, -2.0]]
    with pytest.raises(ValueError, match="without NULLs"):
        _fixed_rows(payload("SELECT 7::bigint, NULL::float8, 1::float8"), 2)
    with pytest.raises(ValueError, match="without NULLs"):
        _fixed_rows(payload("SELECT 7::bigint, 1::float8"), 2)  # a column short
