"""Risk reads: the driver-level training set, feature chunks for scoring, latest scores."""

import datetime as dt

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Exists, Model, OuterRef, QuerySet
from psycopg import sql as pgsql

from apps.common.sql import int_array_literal, pgcopy_decode, statement_sql
from apps.pricing.models import Policy
from apps.risk.features import FEATURE_NAMES
from apps.risk.models import RiskModel, RiskScore


def _columns(feature_names) -> str:
    # Names come from the FEATURE_NAMES allow-list only (checked by feature_names_check).
    unknown = set(feature_names) - set(FEATURE_NAMES)
    if unknown:
        raise ValueError(f"unknown feature columns: {sorted(unknown)}")
    return ", ".join(f"f.{name}" for name in feature_names)


def _identifiers(alias: str, names) -> pgsql.Composed:
    """`alias.name, ...` of allow-listed feature columns, quoted as identifiers."""
    return pgsql.SQL(", ").join(pgsql.Identifier(alias, name) for name in names)


def risk_model_active() -> RiskModel | None:
    return RiskModel.objects.filter(is_active=True).first()


def feature_dates(*, window_days: int) -> list[dt.date]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT as_of FROM telematics_driverfeatures WHERE window_days = %s ORDER BY as_of",
            [window_days],
        )
        return [row[0] for row in cursor.fetchall()]


def training_frame(*, as_of: dt.date, window_days: int, follow_days: int, claims_known_until: dt.date) -> pd.DataFrame:
    """One row per driver with features as of `as_of` (over `window_days`), the exposure of the
    following period in years, and the claims that occurred in it (rejected claims are not claims).

    Every driver is followed from the day after `as_of` for `follow_days`, cut at the day claims
    are known until; drivers who drove nothing in the window are left out."""
    follow_end = min(as_of + dt.timedelta(days=follow_days), claims_known_until)
    exposure_years = (follow_end - as_of).days / 365.25
    query = statement_sql(__name__, "features.sql", "training_frame", columns=_identifiers("f", FEATURE_NAMES))
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(follow_end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    with connection.cursor() as cursor:
        cursor.execute(query, {"as_of": as_of, "window": window_days, "start": start, "end": end})
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["driver_id", *FEATURE_NAMES, "claims"])
    frame[list(FEATURE_NAMES)] = frame[list(FEATURE_NAMES)].astype(float)
    frame["claims"] = frame["claims"].astype(int)
    frame["exposure"] = exposure_years
    return frame


def drivers_to_score(*, model: RiskModel, as_of: dt.date, driver_ids: list[int] | None = None) -> np.ndarray:
    """Ids of the drivers with features as of `as_of` that this model has not scored for that day
    (sorted). Taking them out up front is what lets a killed run pick up where it stopped."""
    only = pgsql.SQL("AND f.driver_id = ANY(%(ids)s)" if driver_ids is not None else "")
    query = statement_sql(__name__, "features.sql", "drivers_to_score", only_ids=only)
    with connection.cursor() as cursor:
        cursor.execute(query, {"as_of": as_of, "window": model.window_days, "ids": driver_ids, "model": model.pk})
        return np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64)


def features_chunk(*, model: RiskModel, as_of: dt.date, driver_ids) -> tuple[np.ndarray, np.ndarray]:
    """The features of these drivers as of `as_of`, in one query: their ids (sorted) and a float
    matrix in the model's feature order. Drivers without a features row that day are left out.

    Read as one binary COPY parsed by numpy: every column is a NOT NULL float8 (and the id a
    bigint), so the rows have one fixed layout; fetching 1,000 rows as Python tuples cost more
    than the prediction of the chunk."""
    names = list(model.feature_names)
    _columns(names)  # allow-listed identifiers only: they become SQL column names below
    # COPY takes no bind parameters: the values are quoted as literals by psycopg.
    statement = statement_sql(
        __name__,
        "features.sql",
        "features_chunk",
        # NaN for a feature none of the driver's trips could measure (NULL): missing to the model.
        columns=pgsql.SQL(", ").join(
            pgsql.SQL("COALESCE({}::float8, 'NaN')").format(pgsql.Identifier("f", name)) for name in names
        ),
        ids=pgsql.Literal(int_array_literal(driver_ids)),
        as_of=pgsql.Literal(as_of),
        window=pgsql.Literal(int(model.window_days)),
    )
    with connection.cursor() as cursor, cursor.copy(statement.as_string(cursor.connection)) as copy:
        payload = b"".join(bytes(block) for block in copy)
    return _fixed_rows(payload, len(names))


def _fixed_rows(payload: bytes, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, values) from a COPY BINARY payload of rows (bigint, k x float8), none of them NULL."""
    rows = pgcopy_decode(payload, [("id", ">i8"), *((f"v{j}", ">f8") for j in range(k))])
    values = np.empty((len(rows), k))
    for j in range(k):
        values[:, j] = rows[f"v{j}"]
    return rows["id"].astype(np.int64), values


def driver_latest_features_date(*, driver_id: int, window_days: int, on_or_before: dt.date) -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(as_of) FROM telematics_driverfeatures"
            " WHERE driver_id = %s AND window_days = %s AND as_of <= %s",
            [driver_id, window_days, on_or_before],
        )
        return cursor.fetchone()[0]


def risk_score_latest(*, driver_id: int) -> RiskScore | None:
    return (
        RiskScore.objects.filter(driver_id=driver_id).select_related("model").order_by("-as_of", "-created_at").first()
    )


# --- a driver's scores (the portal's and the partner API's reads) ------------------------------


def driver_latest_score(*, driver_id: int, insured_by: Model | None = None, summary: bool = False) -> RiskScore | None:
    """The driver's latest score of the active model (only if `insured_by` sees the driver;
    `summary` leaves the explanation columns unread)."""
    qs = RiskScore.objects.select_related("model").filter(driver_id=driver_id, model__is_active=True)
    if insured_by is not None:
        qs = qs.filter(Exists(Policy.objects.filter(partner=insured_by, driver_id=OuterRef("driver_id"))))
    if summary:
        qs = qs.defer("feature_values", "contributions", "reasons", "base_value")
    return qs.order_by("-as_of", "-created_at").first()


def driver_score_history(*, driver_id: int) -> QuerySet[RiskScore]:
    """All scores of the driver, every model, newest first."""
    return (
        RiskScore.objects.select_related("model")
        .filter(driver_id=driver_id)
        .defer("feature_values", "contributions")
        .order_by("-as_of", "-created_at")
    )


def drivers_latest_scores(*, driver_ids: list[int]) -> dict[int, RiskScore]:
    """Each driver's latest score of the active model (explanation columns unread), by driver id."""
    return {
        s.driver_id: s
        for s in RiskScore.objects.filter(driver_id__in=driver_ids, model__is_active=True)
        .select_related("model")
        .defer("feature_values", "contributions")
        .order_by("driver_id", "-as_of", "-created_at")
        .distinct("driver_id")
    }


def risk_model_card(*, model: RiskModel) -> dict:
    """A model card's decision data as plain rows (the admin and the ops pages show these): the
    test comparison of every model, the activation gate's comparisons and decision, calibration
    before and after its correction, and the fairness report (monitoring only)."""
    metrics, card = model.metrics or {}, model.model_card or {}
    comparison = [
        {"model": name, **{k: metrics[name].get(k) for k in ("mean_poisson_deviance", "d2", "normalised_gini",
                                                              "total_predicted", "total_observed")}}
        for name in ("xgboost", "glm", "glm_linear", "constant")
        if name in metrics
    ]  # fmt: skip
    activation = card.get("activation") or {}
    comparisons = activation.get("comparisons") or (card.get("gate") or {}).get("comparisons") or {}
    gate = [
        {"against": name, "version": row.get("version"), "difference": row.get("difference"),
         "ci95": row.get("ci95"), "error": row.get("error"),
         "passed": "error" not in row and row.get("ci95") is not None and row["ci95"][1] < 0}
        for name, row in comparisons.items()
    ]  # fmt: skip
    return {
        "comparison": comparison,
        "gate": gate,
        "decision": activation.get("decision", "not yet asked"),
        "decision_reason": activation.get("reason", ""),
        "decision_by": activation.get("by"),
        "calibration": card.get("calibration") or {},
        "calibration_correction": card.get("calibration_correction"),
        "portfolio_mean_frequency": card.get("portfolio_mean_frequency"),
        "fairness": card.get("fairness") or {},
    }


def fairness_report(*, driver_ids, expected_frequency, as_of: dt.date) -> dict:
    """Monitoring only (docs/fairness.md): by gender and by age band, the drivers, their mean
    expected frequency and mean latest annual premium, each with its ratio to the whole group's.
    Gender and birth year are read here and nowhere on the way to a score or a price."""
    from apps.customers.models import Customer
    from apps.pricing.models import Quote
    from apps.risk.fairness import AGE_BANDS

    frame = pd.DataFrame({"driver_id": np.asarray(driver_ids, dtype=np.int64),
                          "frequency": np.asarray(expected_frequency, dtype=float)})  # fmt: skip
    people = pd.DataFrame(
        list(Customer.objects.filter(pk__in=frame["driver_id"].tolist()).values_list("pk", "gender", "birth_year")),
        columns=["driver_id", "gender", "birth_year"],
    )
    premiums = pd.DataFrame(
        list(
            Quote.objects.filter(driver_id__in=frame["driver_id"].tolist())
            .order_by("driver_id", "-pk")
            .distinct("driver_id")
            .values_list("driver_id", "annual_premium")
        ),
        columns=["driver_id", "premium"],
    )
    frame = frame.merge(people, on="driver_id", how="left").merge(premiums, on="driver_id", how="left")
    frame["premium"] = frame["premium"].astype(float)
    age = as_of.year - frame["birth_year"].astype(float)
    frame["age_band"] = "unknown"
    for low, high, label in AGE_BANDS:
        frame.loc[(age >= low) & (age < high), "age_band"] = label
    frame["gender"] = frame["gender"].fillna("unknown")
    overall_frequency = float(frame["frequency"].mean()) if len(frame) else None
    overall_premium = float(frame["premium"].mean()) if frame["premium"].notna().any() else None
    groups = {}
    for column in ("gender", "age_band"):
        rows = []
        for value, part in frame.groupby(column, sort=True):
            mean_frequency = float(part["frequency"].mean())
            mean_premium = float(part["premium"].mean()) if part["premium"].notna().any() else None
            rows.append(
                {
                    "group": str(value),
                    "drivers": len(part),
                    "mean_expected_frequency": round(mean_frequency, 6),
                    "ratio_score": round(mean_frequency / overall_frequency, 4) if overall_frequency else None,
                    "drivers_with_premium": int(part["premium"].notna().sum()),
                    "mean_premium": None if mean_premium is None else round(mean_premium, 2),
                    "ratio_premium": None
                    if mean_premium is None or not overall_premium
                    else round(mean_premium / overall_premium, 4),
                }
            )
        groups[column] = rows
    return {
        "use": "monitoring only: never a feature or a rating factor",
        "drivers": len(frame),
        "mean_expected_frequency": overall_frequency,
        "mean_premium": overall_premium,
        "groups": groups,
    }


def features_all(*, model: RiskModel, as_of: dt.date) -> np.ndarray:
    """Every driver's features as of `as_of` in the model's feature order (drift checks)."""
    names = list(model.feature_names)
    _columns(names)  # allow-listed identifiers only
    query = statement_sql(__name__, "features.sql", "features_all", columns=_identifiers("f", names))
    with connection.cursor() as cursor:
        cursor.execute(query, {"as_of": as_of, "window": model.window_days})
        return np.asarray(cursor.fetchall(), dtype=float).reshape(-1, len(names))


def score_values(*, model: RiskModel) -> np.ndarray:
    """Expected claims per year of the model's latest scoring day (drift checks)."""
    latest = RiskScore.objects.filter(model=model).order_by("-as_of").values_list("as_of", flat=True).first()
    if latest is None:
        return np.empty(0)
    values = RiskScore.objects.filter(model=model, as_of=latest).values_list("expected_claims_per_year", flat=True)
    return np.fromiter(values, dtype=float)
