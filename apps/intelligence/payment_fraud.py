"""Payment fraud: an XGBoost classifier on the labelled card payments, against a rule baseline.

Training (`payment_fraud_train`): features from one SQL statement (sql/payment_fraud.sql, `features`);
a time-based split on the labelled payments' months: the last TEST_FRACTION of months is the
test set, and the last VALID_FRACTION of the remaining rows (by time) is the validation set that
early-stops the boosting and chooses the alert threshold (the best F1). Reported on the test set:
PR-AUC (average precision; the base rate is the PR-AUC of a random ranking), precision and recall
at the threshold, and the share of fraud amount caught — for the model and for the rule baseline
(online and unusually large, or a card-number/CVV/expiry error, or a burst of payments on the card
in 24 hours, or a card seen on the dark web). MCC enters as its smoothed fraud rate in the
training rows only. The booster is saved as XGBoost JSON under ARTIFACT_ROOT/payment_fraud/ and
its metadata (features, threshold, MCC rates, metrics) is the job run's result.

Scoring (`payment_fraud_score`): every payment without a fraud_score gets one, month by month,
written with one UPDATE per chunk. `payment_fraud_events` then opens fraud_risk events for the
clients with the largest expected fraud loss among recent flagged payments.
"""

import contextlib
import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.services import events_sync
from apps.common.exceptions import ApplicationError
from apps.common.sql import statement
from apps.intelligence.config import intelligence_config

SOURCE = "intelligence.payment_fraud"

DEFAULTS = {
    "TEST_FRACTION": 0.2,
    "VALID_FRACTION": 0.2,
    "MIN_FRAUD_PER_SPLIT": 5,
    # keep at most this share of legitimate payments for training (per mille; fraud always kept)
    "NEGATIVE_PER_MILLE": 1000,
    "MCC_PRIOR_WEIGHT": 100,
    "RULE_LARGE_QUANTILE": 0.95,
    "RULE_BURST_24H": 5,
    "EVENT_DAYS": 30,
    "EVENT_LIMIT": 25,
    "SCORE_CHUNK_DAYS": 31,
    "MODEL_MAX_AGE_DAYS": 7,
}

FEATURES = [
    "amount", "abs_amount", "is_refund", "is_online", "is_swipe", "hour", "weekday", "error_count",
    "err_cvv", "err_card_number", "err_expiration", "err_pin", "err_balance", "is_credit", "is_prepaid",
    "has_chip", "on_dark_web", "cards_issued", "credit_limit", "amount_of_limit", "card_age_days",
    "client_age", "credit_score", "yearly_income", "debt_to_income", "card_tx_24h", "card_amount_24h",
    "amount_vs_card_mean", "secs_since_prev", "state_changed", "mcc_fraud_rate",
]  # fmt: skip


FETCH_ROWS = 100_000  # rows per fetch of the features' server-side cursor


def _frame(*, since, until, labelled_only=False, unscored_only=False, keep_per_mille=1000):
    """The features of the payments in [since, until) as a DataFrame, numeric columns as float.
    Read through a server-side cursor, FETCH_ROWS rows at a time, each chunk typed before the next
    is fetched: on 5 M labelled payments the whole result as Python tuples took 8.9 GB."""
    import pandas as pd

    parts = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # see apps.common.sql
        with connection.chunked_cursor() as cursor:
            cursor.execute(
                statement(__name__, "payment_fraud.sql", "features"),
                {
                    "since": since,
                    "until": until,
                    "labelled_only": labelled_only,
                    "unscored_only": unscored_only,
                    "keep_per_mille": keep_per_mille,
                },
            )
            columns = [c.name for c in cursor.description]
            while rows := cursor.fetchmany(FETCH_ROWS):
                parts.append(_typed(pd.DataFrame(rows, columns=columns)))
    return pd.concat(parts, ignore_index=True) if parts else _typed(pd.DataFrame(columns=columns))


def _typed(frame):
    import pandas as pd

    for column in frame.columns:
        if column not in ("paid_at", "mcc", "is_fraud"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _with_mcc_rate(frame, rates: dict[str, float], prior: float):
    frame = frame.copy()
    frame["mcc_fraud_rate"] = frame["mcc"].map(rates).fillna(prior).astype(float)
    return frame


def _rule_flags(frame, *, large_amount: float, burst: int):
    """The rule baseline: how many of its rules a payment breaks (0 = not flagged)."""
    large_online = (frame["is_online"] == 1) & (frame["abs_amount"] > large_amount)
    card_errors = (frame["err_cvv"] + frame["err_card_number"] + frame["err_expiration"]) > 0
    burst_hit = frame["card_tx_24h"] >= burst
    return large_online.astype(int) + card_errors.astype(int) + burst_hit.astype(int) + frame["on_dark_web"].fillna(0)


def classification_report(y_true, scores, flagged, amounts) -> dict:
    """PR-AUC of the scores; precision, recall and fraud amount caught of the flags."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    y_true = np.asarray(y_true, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    amounts = np.abs(np.asarray(amounts, dtype=float))
    true_positives = int((flagged & y_true).sum())
    fraud_amount = float(amounts[y_true].sum())
    return {
        "pr_auc": round(float(average_precision_score(y_true, scores)), 4) if y_true.any() else None,
        "precision": round(true_positives / int(flagged.sum()), 4) if flagged.any() else 0.0,
        "recall": round(true_positives / int(y_true.sum()), 4) if y_true.any() else None,
        "flagged": int(flagged.sum()),
        "fraud": int(y_true.sum()),
        "loss_caught": round(float(amounts[flagged & y_true].sum()), 2),
        "loss_total": round(fraud_amount, 2),
        "loss_caught_share": round(float(amounts[flagged & y_true].sum()) / fraud_amount, 4) if fraud_amount else None,
    }


def best_f1_threshold(y_true, scores) -> float:
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(np.asarray(y_true, dtype=bool), scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
    return float(thresholds[int(np.argmax(f1))]) if len(thresholds) else 0.5


def payment_fraud_train(*, until: dt.datetime | None = None) -> dict:
    """Trains, evaluates against the rule baseline and saves a model. Raises ApplicationError when
    the labelled payments are too few to split by time."""
    import xgboost as xgb

    cfg = intelligence_config("PAYMENT_FRAUD", DEFAULTS)
    until = until or timezone.now() + dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(paid_at) FROM transactions_payment WHERE is_fraud IS NOT NULL AND paid_at < %s", [until]
        )
        first = cursor.fetchone()[0]
    if first is None:
        raise ApplicationError("no labelled payments to train on", code="no_training_data")
    frame = _frame(since=first, until=until, labelled_only=True, keep_per_mille=cfg["NEGATIVE_PER_MILLE"])
    frame["label"] = frame["is_fraud"].astype(bool)
    months = frame["paid_at"].dt.strftime("%Y-%m")
    ordered_months = sorted(months.unique())
    test_months = max(1, round(len(ordered_months) * cfg["TEST_FRACTION"]))
    if len(ordered_months) < test_months + 1:
        raise ApplicationError(
            f"labelled payments span {len(ordered_months)} month(s); need earlier months to train and later to test",
            code="no_training_data",
        )
    test_mask = months.isin(ordered_months[-test_months:]).to_numpy()
    train_all = frame[~test_mask]
    test = frame[test_mask]
    split = int(len(train_all) * (1 - cfg["VALID_FRACTION"]))
    train, valid = train_all.iloc[:split], train_all.iloc[split:]
    counts = {"train": int(train["label"].sum()), "valid": int(valid["label"].sum()), "test": int(test["label"].sum())}
    if min(counts.values()) < cfg["MIN_FRAUD_PER_SPLIT"]:
        raise ApplicationError(
            f"not enough labelled fraud in each time split (train/valid/test: {counts}); "
            f"need {cfg['MIN_FRAUD_PER_SPLIT']} in each",
            code="no_training_data",
        )

    prior = float(train["label"].mean())
    weight = cfg["MCC_PRIOR_WEIGHT"]
    by_mcc = train.groupby("mcc")["label"].agg(["sum", "count"])
    mcc_rates = ((by_mcc["sum"] + prior * weight) / (by_mcc["count"] + weight)).to_dict()
    train, valid, test = (_with_mcc_rate(part, mcc_rates, prior) for part in (train, valid, test))

    negatives, positives = int((~train["label"]).sum()), int(train["label"].sum())
    model = xgb.XGBClassifier(
        n_estimators=400,
        max_depth=5,
        learning_rate=0.08,
        subsample=0.8,
        colsample_bytree=0.8,
        min_child_weight=2,
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="aucpr",
        early_stopping_rounds=40,
        scale_pos_weight=negatives / max(positives, 1),
        n_jobs=2,
        random_state=7,
    )
    model.fit(train[FEATURES], train["label"], eval_set=[(valid[FEATURES], valid["label"])], verbose=False)
    threshold = best_f1_threshold(valid["label"], model.predict_proba(valid[FEATURES])[:, 1])

    test_scores = model.predict_proba(test[FEATURES])[:, 1]
    large = float(train["abs_amount"].quantile(cfg["RULE_LARGE_QUANTILE"]))
    rules = _rule_flags(test, large_amount=large, burst=cfg["RULE_BURST_24H"]).to_numpy()
    metrics = {
        "model": classification_report(test["label"], test_scores, test_scores >= threshold, test["amount"]),
        "rules": classification_report(test["label"], rules, rules >= 1, test["amount"]),
        "base_rate": round(float(test["label"].mean()), 5),
    }

    trained_at = timezone.now()
    directory = Path(settings.ARTIFACT_ROOT) / "payment_fraud"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model-{trained_at:%Y%m%dT%H%M%S%f}.json"
    model.get_booster().save_model(path)
    importance = model.get_booster().get_score(importance_type="gain")
    return {
        "trained_at": trained_at.isoformat(),
        "path": str(path),
        "threshold": round(threshold, 6),
        "features": FEATURES,
        "mcc_rates": {str(k): round(float(v), 6) for k, v in mcc_rates.items()},
        "mcc_prior": prior,
        "best_iteration": int(getattr(model, "best_iteration", 0) or 0),
        "split": {
            "train_rows": len(train),
            "valid_rows": len(valid),
            "test_rows": len(test),
            "test_months": ordered_months[-test_months:],
            "train_months": ordered_months[:-test_months],
            "fraud": counts,
            "negative_per_mille": cfg["NEGATIVE_PER_MILLE"],
        },
        "rule_large_amount": round(large, 2),
        "metrics": metrics,
        "top_features": sorted(importance, key=importance.get, reverse=True)[:10],
    }


def payment_fraud_model_latest() -> dict | None:
    """Metadata of the newest trained model whose artifact still exists."""
    from apps.jobs.models import JobRun

    runs = JobRun.objects.filter(kind=SOURCE, status=JobRun.Status.SUCCEEDED, result__has_key="model").order_by(
        "-finished_at"
    )
    for result in runs.values_list("result", flat=True)[:5]:
        model = result.get("model") or {}
        if model.get("path") and Path(model["path"]).exists():
            return model
    return None


def payment_fraud_score(*, model_meta: dict, progress=None) -> dict:
    """Scores every payment without a fraud_score, a month (SCORE_CHUNK_DAYS) at a time."""
    import numpy as np
    import xgboost as xgb

    cfg = intelligence_config("PAYMENT_FRAUD", DEFAULTS)
    booster = xgb.Booster()
    booster.load_model(model_meta["path"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(paid_at), max(paid_at) FROM transactions_payment WHERE fraud_score IS NULL")
        first, last = cursor.fetchone()
    if first is None:
        return {"scored": 0, "chunks": 0}
    chunk = dt.timedelta(days=cfg["SCORE_CHUNK_DAYS"])
    scored = chunks = 0
    start = first
    while start <= last:
        end = start + chunk
        frame = _frame(since=start, until=end, unscored_only=True)
        if len(frame):
            frame = _with_mcc_rate(frame, model_meta["mcc_rates"], model_meta["mcc_prior"])
            scores = booster.predict(xgb.DMatrix(frame[model_meta["features"]].astype(float)))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    statement(__name__, "payment_fraud.sql", "scores_write"),
                    {
                        "ids": frame["id"].astype(np.int64).tolist(),
                        "paid": frame["paid_at"].tolist(),
                        "scores": [round(float(s), 6) for s in scores],
                    },
                )
            scored += len(frame)
        chunks += 1
        if progress:
            progress(scored)
        start = end
    return {"scored": scored, "chunks": chunks}


def payment_fraud_events(*, model_meta: dict, as_of: dt.datetime | None = None) -> dict:
    """fraud_risk events for the clients with the largest expected fraud loss (score x amount)
    among their flagged payments of the last EVENT_DAYS before `as_of` (default: the newest
    payment, so a historical file still yields its riskiest clients)."""
    cfg = intelligence_config("PAYMENT_FRAUD", DEFAULTS)
    with connection.cursor() as cursor:
        if as_of is None:
            cursor.execute("SELECT max(paid_at) FROM transactions_payment")
            as_of = cursor.fetchone()[0]
        if as_of is None:
            return events_sync(event_type="fraud_risk", findings=[], source=SOURCE)
        cursor.execute(
            statement(__name__, "payment_fraud.sql", "flagged_customers"),
            {
                "since": as_of - dt.timedelta(days=cfg["EVENT_DAYS"]),
                "until": as_of,
                "threshold": model_meta["threshold"],
                "limit": cfg["EVENT_LIMIT"],
            },
        )
        rows = cursor.fetchall()
    findings = []
    for customer_id, flagged, max_score, amount, loss in rows:
        severity = (
            "critical"
            if max_score >= 0.95 and flagged >= 3
            else "high"
            if max_score >= 0.9
            else "medium"
            if max_score >= 0.7
            else "low"
        )
        findings.append(
            {
                "severity": severity,
                "entity_type": "customers.customer",
                "entity_id": customer_id,
                "title": f"Payment fraud risk: {flagged} flagged payment(s) of customer {customer_id}",
                "description": (
                    f"{flagged} payment(s) above the model threshold {model_meta['threshold']:.3f} in the"
                    f" {cfg['EVENT_DAYS']} days to {as_of:%Y-%m-%d}, {amount:.2f} in total, highest score"
                    f" {max_score:.3f}, expected loss {loss:.2f}."
                ),
                "metadata": {
                    "payment_fraud": {
                        "flagged": flagged,
                        "max_score": round(float(max_score), 4),
                        "flagged_amount": amount,
                        "expected_loss": round(float(loss), 2),
                    }
                },
                "score": round(float(max_score) * 100, 1),
            }
        )
    return events_sync(event_type="fraud_risk", findings=findings, source=SOURCE)


def payment_fraud_run(*, retrain: bool = False, as_of: dt.datetime | None = None, progress=None) -> dict:
    """The job: (re)train when asked or when no model younger than MODEL_MAX_AGE_DAYS exists,
    score the unscored payments, then sync the clients' events."""
    cfg = intelligence_config("PAYMENT_FRAUD", DEFAULTS)
    model = None if retrain else payment_fraud_model_latest()
    if model is not None:
        age = timezone.now() - dt.datetime.fromisoformat(model["trained_at"])
        if age > dt.timedelta(days=cfg["MODEL_MAX_AGE_DAYS"]):
            model = None
    trained = model is None
    if trained:
        model = payment_fraud_train(until=as_of)
    scoring = payment_fraud_score(model_meta=model, progress=progress)
    events = payment_fraud_events(model_meta=model, as_of=as_of)
    return {"model": model, "trained": trained, "scoring": scoring, "events": events}


def payments_scoring_requested(*, ingest_run=None) -> None:
    """Connected to transactions' `payments_ingested` hook (an ingestion committed new payments):
    queue a payment-fraud run (scores the new payments, refreshes events). A run already live
    covers it."""
    from apps.jobs.services import job_start

    def start() -> None:
        # the same run already queued or running will score these payments too
        with contextlib.suppress(ApplicationError):
            job_start(kind=SOURCE, parameters={}, trigger="event")

    transaction.on_commit(start)
