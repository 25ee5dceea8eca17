"""From a driver's features to a RiskScore: expected claims per year, relative risk, the 0-100
safety score, the band, and the SHAP contributions with reasons in plain words.

How the numbers relate (documented for people reading a score):
- expected claims per year = exp(margin) where margin is the model's log claim frequency for one
  year of exposure: the base margin (log 1 year + the training part's observed log frequency,
  kept in the artifact) plus the trees; then the model's calibration correction, if it has one;
- relative risk = expected claims per year / the portfolio mean frequency (observed claims over
  exposure of the drivers the model was trained on, kept in its model card);
- safety score = round(100 / (1 + (relative_risk / 1.5) ** 2)), strictly decreasing in relative
  risk: an average driver (1.0) scores 69, half the average risk 90, twice the average 36, three
  times 20; 100 and 0 are the limits for no risk and unbounded risk;
- band from relative risk: low < 0.8 <= mild < 1.1 <= medium < 1.5 <= high (safety scores
  about 78+, 65-77, 50-64, 50 and below).
- contributions: for an XGBoost model its exact TreeSHAP (`pred_contribs`) on the margin; for a
  GLM model (`glm-spline-poisson`, the family the activation gate deploys when XGBoost does not
  beat it) each feature's additive term minus its training mean, which is the exact SHAP value
  of an additive model. Either way base value (which includes the base margin) +
  sum(contributions) = margin, so exp(contribution) - 1 is a feature's effect on expected claims
  before calibration, other features held at their contribution.
"""

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql as pgsql

from apps.common.sql import pgcopy_encode
from apps.risk import selectors
from apps.risk.features import BY_NAME
from apps.risk.modeling import booster_base, booster_load, corrected, glm_contributions, glm_load, glm_margin
from apps.risk.models import RiskModel, RiskScore
from apps.risk.reasons import is_material, may_name, reason_features
from apps.risk.scale import band, safety_score

logger = logging.getLogger(__name__)

TOP_REASONS = 3
MINUS = "\u2212"  # a typographic minus in reasons


# --- artifacts ---------------------------------------------------------------------------------


def artifact_file(model: RiskModel) -> Path:
    path = Path(model.artifact_path)
    return path if path.is_absolute() else Path(settings.ARTIFACT_ROOT) / path


_BOOSTERS: dict[tuple[str, float], xgb.Booster] = {}
_GLMS: dict[tuple[str, float], dict] = {}
_LOADING = threading.Lock()
_THREAD = threading.local()
GLM_ALGORITHM = "glm-spline-poisson"


def is_glm(model: RiskModel) -> bool:
    return model.algorithm == GLM_ALGORITHM


def model_glm(model: RiskModel) -> dict:
    """A GLM model's artifact (plain JSON, read-only once loaded), loaded once per process."""
    path = artifact_file(model)
    key = (str(path), path.stat().st_mtime)
    with _LOADING:
        artifact = _GLMS.get(key)
        if artifact is None:
            artifact = glm_load(path)
            if artifact["features"] != list(model.feature_names):
                raise ValueError(f"artifact {path} has features {artifact['features']}, the model row says "
                                 f"{model.feature_names}")  # fmt: skip
            _GLMS.clear()
            _GLMS[key] = artifact
    return artifact


def model_load(model: RiskModel) -> None:
    """Loads the model's artifact whatever its family (raises OSError / ValueError if it cannot)."""
    model_glm(model) if is_glm(model) else model_booster(model)


def model_booster(model: RiskModel) -> xgb.Booster:
    """The model's booster, loaded from its JSON artifact once per process (and again if the file
    changes). Each thread gets its own copy: scoring sets the booster's thread count per call,
    which must not change under another thread's prediction."""
    path = artifact_file(model)
    key = (str(path), path.stat().st_mtime)
    mine = getattr(_THREAD, "booster", None)
    if mine is not None and mine[0] == key:
        return mine[1]
    with _LOADING:
        booster = _BOOSTERS.get(key)
        if booster is None:
            booster = booster_load(path)
            saved = json.loads(booster.attr("feature_list") or "[]")
            if saved != list(model.feature_names):
                raise ValueError(f"artifact {path} has features {saved}, the model row says {model.feature_names}")
            _BOOSTERS.clear()
            _BOOSTERS[key] = booster
        booster = booster.copy()  # the loaded one is only ever copied, never predicted with
    _THREAD.booster = (key, booster)
    return booster


# --- computing ---------------------------------------------------------------------------------


@dataclass
class ScoredChunk:
    driver_ids: np.ndarray
    values: np.ndarray  # feature matrix, model feature order
    expected: np.ndarray
    relative_risk: np.ndarray
    safety: np.ndarray
    bands: np.ndarray
    contributions: np.ndarray | None  # (n, features) or None when not explained
    base_values: np.ndarray | None


def expected_frequency(*, model: RiskModel, values: np.ndarray) -> np.ndarray:
    """Expected claims per year of each row of features (model feature order), calibrated."""
    if is_glm(model):
        margin = glm_margin(model_glm(model), values)
        return corrected(np.exp(margin), (model.model_card or {}).get("calibration_correction"))
    booster = model_booster(model)
    base = np.full(len(values), booster_base(booster))
    matrix = xgb.DMatrix(values, base_margin=base, feature_names=list(model.feature_names), nthread=1)
    booster.set_param({"nthread": 1})
    margin = booster.predict(matrix, output_margin=True).astype(float)
    return corrected(np.exp(margin), (model.model_card or {}).get("calibration_correction"))


def scores_compute(*, model: RiskModel, driver_ids: np.ndarray, values: np.ndarray, explain: bool) -> ScoredChunk:
    """One predict and (when explaining) one pred_contribs call for the whole chunk."""
    if is_glm(model):
        artifact = model_glm(model)
        margin = glm_margin(artifact, values)
        contributions, base_values = glm_contributions(artifact, values) if explain else (None, None)
        return _scored(model, driver_ids, values, margin, contributions, base_values)
    booster = model_booster(model)
    # nthread=1: building a 1,000-row matrix is faster than waking a thread pool for it
    base = np.full(len(values), booster_base(booster))
    matrix = xgb.DMatrix(values, base_margin=base, feature_names=list(model.feature_names), nthread=1)
    # A plain prediction of 1,000 rows takes a millisecond on one thread: waking a thread pool
    # costs more than that on a busy machine. Exact SHAP is the heavy part and gets every core.
    booster.set_param({"nthread": 1})
    margin = booster.predict(matrix, output_margin=True).astype(float)
    contributions = base_values = None
    if explain:
        booster.set_param({"nthread": 0})
        contribs = booster.predict(matrix, pred_contribs=True).astype(float)
        contributions, base_values = contribs[:, :-1], contribs[:, -1]
    return _scored(model, driver_ids, values, margin, contributions, base_values)


def _scored(model, driver_ids, values, margin, contributions, base_values) -> ScoredChunk:
    expected = corrected(np.exp(margin), model.model_card.get("calibration_correction"))
    portfolio_mean = float(model.model_card["portfolio_mean_frequency"])
    relative = expected / portfolio_mean
    return ScoredChunk(
        driver_ids=driver_ids,
        values=values,
        expected=expected,
        relative_risk=relative,
        safety=safety_score(relative),
        bands=band(relative),
        contributions=contributions,
        base_values=base_values,
    )


def _formatted(name: str, values: np.ndarray) -> list[str]:
    feature = BY_NAME[name]
    return [f"{v:,.{feature.decimals}f}" for v in (values * feature.scale).tolist()]  # 3,000 km


def reasons_for(
    *,
    feature_names: list[str],
    values: np.ndarray,
    contributions: np.ndarray,
    quantiles: dict[str, list[float]],
    supported: set[str] | None = None,
) -> list[list[dict]]:
    """Top reasons per driver in plain words, e.g. "harsh braking 3.2 per 100 km, more than 80% of
    drivers: +12% expected claims": of the `supported` features (None: all), the largest effects
    that are material (`apps.risk.reasons`). The share of drivers comes from the training
    population (1,001 quantiles per feature in the model card). Vectorised per feature; strings per row."""
    n, k = contributions.shape
    named = np.array([may_name(name, supported) for name in feature_names], dtype=bool)
    candidates = np.where(named[None, :], contributions, 0.0)
    top = np.argsort(-np.abs(candidates), axis=1, kind="stable")[:, :TOP_REASONS]
    effects = np.expm1(np.take_along_axis(candidates, top, axis=1))
    below = np.empty((n, k), dtype=np.int64)
    above = np.empty((n, k), dtype=np.int64)
    shown = []
    for j, name in enumerate(feature_names):
        q = np.asarray(quantiles[name])
        below[:, j] = np.rint(100.0 * np.searchsorted(q, values[:, j], side="left") / len(q))
        above[:, j] = np.rint(100.0 * (len(q) - np.searchsorted(q, values[:, j], side="right")) / len(q))
        shown.append(_formatted(name, values[:, j]))
    features = [BY_NAME[name] for name in feature_names]
    out = []
    for i in range(n):
        reasons = []
        for slot in range(top.shape[1]):
            effect = float(effects[i, slot])
            if not is_material(effect):
                continue
            j = int(top[i, slot])
            if below[i, j] >= 50:
                compared = f"more than {min(below[i, j], 99)}% of drivers"
            elif above[i, j] >= 50:
                compared = f"less than {min(above[i, j], 99)}% of drivers"
            else:
                compared = "about the same as most drivers"
            feature = features[j]
            gap = "" if feature.unit.startswith("%") else " "  # "12% of driving time", "3.2 per 100 km"
            text = (
                f"{feature.label} {shown[j][i]}{gap}{feature.unit}, {compared}: "
                f"{'+' if effect >= 0 else MINUS}{abs(effect) * 100:.0f}% expected claims"
            )
            reasons.append({"feature": feature.name, "effect": round(effect, 4), "text": text})
        out.append(reasons)
    return out


# --- writing -----------------------------------------------------------------------------------

_STAGE_COLUMNS = (
    "driver_id",
    "expected_claims_per_year",
    "relative_risk",
    "safety_score",
    "band",
    "feature_values",
    "contributions",
    "base_value",
    "reasons",
)


def _json_object_template(names: list[str]) -> str:
    # Feature names are the allow-listed identifiers of FEATURES: safe as JSON keys as they are.
    selectors._columns(names)
    return "{" + ", ".join(f'"{n}": %r' for n in names) + "}"


_BANDS = [b.value for b in RiskScore.Band]  # binary staging carries a band as its index here


def _binary_stage(chunk: ScoredChunk, names: list[str]) -> bytes:
    """The chunk as one COPY BINARY payload, built column-wise by numpy: every field is fixed
    width (ids, floats, the safety score, the band's index, one float column per feature), so
    a row costs no Python work at all. Used when nothing is explained: the features snapshot is
    then built by the INSERT (an ARRAY of the feature columns) instead of parsed from text."""
    columns = [("driver", ">i8"), ("expected", ">f8"), ("relative", ">f8"), ("safety", ">i4"), ("band", ">i2")]
    columns += [(f"f{j}", ">f8") for j in range(len(names))]
    index = {b: i for i, b in enumerate(_BANDS)}
    values = {
        "driver": chunk.driver_ids,
        "expected": chunk.expected,
        "relative": chunk.relative_risk,
        "safety": chunk.safety,
        "band": np.fromiter((index[b] for b in chunk.bands.tolist()), dtype=np.int16, count=len(chunk.bands)),
        **{f"f{j}": chunk.values[:, j] for j in range(len(names))},
    }
    return pgcopy_encode(columns, values)


def scores_write(
    *, model: RiskModel, as_of: dt.date, chunk: ScoredChunk, update_changed: bool = False
) -> list[tuple[int, str, int, str | None, int | None]]:
    """Bulk-writes a chunk: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT
    (driver, model, as_of) DO NOTHING, so a rerun writes nothing; `update_changed` (event-driven
    rescoring) instead replaces the day's score when its features changed since. Returns, per row
    written, (driver, band, safety score, previous band, previous safety score): the previous
    score is the driver's latest before this statement (read in the same statement)."""
    if not len(chunk.driver_ids):
        return []
    names = list(model.feature_names)
    selectors._columns(names)  # allow-listed feature names only; quoted as identifiers below all the same
    conflict = pgsql.SQL(
        """ON CONFLICT (driver_id, model_id, as_of) DO UPDATE SET
            expected_claims_per_year = EXCLUDED.expected_claims_per_year, relative_risk = EXCLUDED.relative_risk,
            safety_score = EXCLUDED.safety_score, band = EXCLUDED.band, feature_values = EXCLUDED.feature_values,
            contributions = EXCLUDED.contributions, base_value = EXCLUDED.base_value, reasons = EXCLUDED.reasons,
            created_at = EXCLUDED.created_at
           WHERE risk_riskscore.feature_values IS DISTINCT FROM EXCLUDED.feature_values"""
        if update_changed
        else "ON CONFLICT (driver_id, model_id, as_of) DO NOTHING"
    )
    if chunk.contributions is None:
        stage = pgsql.Identifier("risk_score_stage_plain")
        create = pgsql.SQL(
            """CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (
                driver_id bigint, expected_claims_per_year float8, relative_risk float8, safety_score int,
                band_index smallint, {features}) ON COMMIT DELETE ROWS"""
        ).format(
            stage=stage,
            features=pgsql.SQL(", ").join(pgsql.SQL("{} float8").format(pgsql.Identifier(n)) for n in names),
        )
        copy_statement = pgsql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(stage)
        payload = _binary_stage(chunk, names)
        columns = pgsql.SQL(
            """({bands})[s.band_index + 1], ARRAY[{features}]::float8[], '{{}}'::jsonb, 0, '[]'::jsonb"""
        ).format(
            bands=pgsql.SQL("ARRAY[{}]").format(pgsql.SQL(", ").join(pgsql.Literal(b) for b in _BANDS)),
            features=pgsql.SQL(", ").join(pgsql.Identifier("s", n) for n in names),
        )
    else:
        stage = pgsql.Identifier("risk_score_stage")
        create = pgsql.SQL(
            """CREATE TEMPORARY TABLE IF NOT EXISTS {} (
                driver_id bigint, expected_claims_per_year float8, relative_risk float8, safety_score int,
                band text, feature_values float8[], contributions jsonb, base_value float8, reasons jsonb)
               ON COMMIT DELETE ROWS"""
        ).format(stage)
        copy_statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            stage, pgsql.SQL(", ").join(map(pgsql.Identifier, _STAGE_COLUMNS))
        )
        payload = _text_stage(model, chunk, names)
        columns = pgsql.SQL("s.band, s.feature_values, s.contributions, s.base_value, s.reasons")
    # The stage table empties at commit: the COPY and the INSERT share one transaction (the
    # caller's, without a savepoint, or one of their own).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One round trip: the session's stage table (kept across transactions, emptied at each
        # commit; emptied here too for an outer transaction writing several chunks) and, since
        # scores are recomputable and a rerun writes the missing ones, no wait for the WAL flush
        # at this chunk's commit: a crash can only lose scores the next run writes again.
        cursor.execute(pgsql.SQL("{}; DELETE FROM {}; SET LOCAL synchronous_commit = off").format(create, stage))
        with cursor.copy(copy_statement) as copy:
            copy.write(payload)
        # The statement's snapshot does not see its own inserts: the lateral read finds the
        # driver's score from before this write (for a replaced day, the old version of it).
        cursor.execute(
            pgsql.SQL(
                """WITH written AS (
                    INSERT INTO risk_riskscore (driver_id, model_id, as_of, expected_claims_per_year,
                        relative_risk, safety_score, band, feature_values, contributions, base_value, reasons,
                        created_at)
                    SELECT s.driver_id, %(model)s, %(as_of)s, s.expected_claims_per_year, s.relative_risk,
                        s.safety_score, {columns}, %(now)s
                    FROM {stage} s
                    {conflict}
                    RETURNING driver_id, band, safety_score
                )
                SELECT w.driver_id, w.band, w.safety_score, p.band, p.safety_score
                FROM written w
                LEFT JOIN LATERAL (
                    SELECT band, safety_score FROM risk_riskscore r WHERE r.driver_id = w.driver_id
                    ORDER BY r.as_of DESC, r.created_at DESC, r.id DESC LIMIT 1
                ) p ON true"""
            ).format(columns=columns, stage=stage, conflict=conflict),
            {"model": model.pk, "as_of": as_of, "now": timezone.now()},
        )
        return cursor.fetchall()


def _text_stage(model: RiskModel, chunk: ScoredChunk, names: list[str]) -> str:
    """The chunk as COPY text rows: the features as an array literal, the SHAP contributions and
    the reasons as JSON documents."""
    as_json = _json_object_template(names)
    as_array = "{" + ",".join(["%r"] * len(names)) + "}"
    quantiles = model.model_card.get("feature_quantiles") or {}
    reasons = reasons_for(
        feature_names=names, values=chunk.values, contributions=chunk.contributions, quantiles=quantiles,
        supported=reason_features(model.model_card),
    )
    contributions = np.round(chunk.contributions, 6).tolist()
    base_values = chunk.base_values.tolist()
    values = chunk.values.tolist()
    expected, relative = chunk.expected.tolist(), chunk.relative_risk.tolist()
    safety, bands = chunk.safety.tolist(), chunk.bands.tolist()
    lines = []
    for i, driver_id in enumerate(chunk.driver_ids.tolist()):
        reason_json = json.dumps(reasons[i], ensure_ascii=False).replace("\\", "\\\\")
        lines.append(
            f"{driver_id}\t{expected[i]!r}\t{relative[i]!r}\t{safety[i]}\t{bands[i]}\t"
            f"{as_array % tuple(values[i])}\t{as_json % tuple(contributions[i])}\t{base_values[i]!r}\t{reason_json}\n"
        )
    return "".join(lines)
