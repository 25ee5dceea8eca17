"""The simulated portfolio part of bench/risk_model.py: 5,000 drivers x 180 days from the fast
simulator (the same traits, trips and claim process that `simulate_trips --features-only` stores),
driver features over the first 90 days, claims over the last 90, and the risk procedure on them
(modeling.compare, the same code as training) over the seeds: XGBoost against the standard GLM on
test deviance, Spearman correlation with each driver's true expected claims (known from the
latent traits and the km driven), and calibration by decile."""

import datetime as dt

import numpy as np

DRIVERS, DAYS, WINDOW = 5_000, 180, 90
FREQUENCY = 0.12  # simulate_trips' default claims per driver-year at 12,000 km and average risk


def portfolio(seed: int, frequency: float = FREQUENCY):
    from django.conf import settings

    from apps.demo.trips import fast
    from apps.demo.trips.portfolio import driver_feature_frame
    from apps.demo.trips.simulator import claim_rate, draw_traits, simulate_claims
    from apps.risk.features import FEATURE_NAMES

    traits = draw_traits(np.random.default_rng(seed), DRIVERS)
    rng = np.random.default_rng([seed, 1])
    end = dt.date(2026, 6, 30)
    first = end - dt.timedelta(days=DAYS - 1)
    plan = fast.plan_trips(rng, traits, first_day=first, days=DAYS, zone="Europe/Berlin")
    f = fast.emulate_features(rng, traits, plan, fast.load_coefficients(), settings.TELEMATICS)
    split_us = int(dt.datetime.combine(first + dt.timedelta(days=WINDOW), dt.time(), tzinfo=dt.UTC).timestamp() * 1e6)
    end_us = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp() * 1e6)
    before, after = plan.start_us < split_us, plan.start_us >= split_us
    n, d = DRIVERS, plan.driver

    def total(column, mask):
        return np.bincount(d[mask], np.asarray(f[column], dtype=float)[mask], n)

    frame = driver_feature_frame(plan, f, before, n)
    frame.insert(0, "driver_id", np.arange(n))
    km = frame["km"].to_numpy()
    starts = plan.start_us[after]
    claims = simulate_claims(
        np.random.default_rng([seed, 2]), traits, trip_driver=d[after], trip_km=f["distance_km"][after],
        trip_start_us=starts, trip_end_us=starts + (f["duration_s"][after] * 1e6).astype(np.int64),
        window=(split_us, end_us), frequency=frequency,
    )  # fmt: skip
    frame["claims"] = np.bincount([c.driver for c in claims], minlength=n)
    frame["exposure"] = (DAYS - WINDOW) / 365.25
    truth = claim_rate(traits, total("distance_km", after), frequency)
    keep = km > 0
    return frame[keep].reset_index(drop=True), truth[keep], list(FEATURE_NAMES), len(plan.km)


def simulated_rows(*, seeds: str, frequency: float = FREQUENCY) -> list[tuple[str, str]]:
    import time

    from scipy.stats import spearmanr

    from apps.risk import modeling
    from apps.risk.features import FEATURES

    monotone = {f.name: f.monotone for f in FEATURES if f.monotone}
    rows, per = [], []
    for seed in [int(s) for s in seeds.split(",")]:
        start = time.perf_counter()
        frame, truth, features, trips = portfolio(seed, frequency)
        simulated_s = time.perf_counter() - start
        dataset = modeling.Dataset(frame=frame, features=features, count_col="claims", exposure_col="exposure",
                                   group_col="driver_id")  # fmt: skip
        result = modeling.compare(dataset, monotone=monotone, seed=seed, size_tradeoff=False)
        test = result.parts == "test"
        e = dataset.exposure[test]
        spearman = {m: spearmanr(result.test_predictions[m] / e, truth[test]).statistic for m in ("xgboost", "glm")}
        train = result.parts == "train"
        train_dev = modeling.mean_poisson_deviance(dataset.counts[train], dataset.exposure[train],
                                                   modeling.xgb_frequency(result, dataset, train))  # fmt: skip
        xgb, glm = result.metrics["xgboost"], result.metrics["glm"]
        ratio = xgb["mean_poisson_deviance"] / glm["mean_poisson_deviance"]
        worst = max(abs(r["predicted_over_observed"] - 1) for r in xgb["calibration"] if r["predicted_over_observed"])
        per.append((spearman["xgboost"] > spearman["glm"], xgb["mean_poisson_deviance"] < glm["mean_poisson_deviance"],
                    worst <= 0.10))  # fmt: skip
        rows.append(
            (f"simulated {frequency}/year seed {seed}",
             f"{len(frame):,} drivers, {trips:,} trips, {int(frame['claims'].sum())} claims (simulated in "
             f"{simulated_s:.0f} s); Spearman with true expected claims XGBoost {spearman['xgboost']:.3f} vs GLM "
             f"{spearman['glm']:.3f}; test deviance XGBoost {xgb['mean_poisson_deviance']:.4f} vs GLM "
             f"{glm['mean_poisson_deviance']:.4f} (ratio {ratio:.4f}),"
             f" train {train_dev:.4f}; {xgb['trees']} trees; worst decile {worst:.1%}")
        )  # fmt: skip
    met = [sum(p[i] for p in per) for i in range(3)]
    rows.append((f"simulated {frequency}/year targets",
                 f"Spearman above GLM {met[0]}/{len(per)} seeds, deviance below GLM {met[1]}/{len(per)}, "
                 f"calibration within ±10% {met[2]}/{len(per)}"))  # fmt: skip
    return rows
