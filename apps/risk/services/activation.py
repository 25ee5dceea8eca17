"""Risk writes: the activation gate (champion / challenger) and activation itself.

A trained model goes live only if, on its held-out test drivers, its mean Poisson deviance beats
the constant model's (the training frequency), the standard GLM's and the active model's, each by
a margin whose bootstrap 95% interval lies wholly below zero. The first two are measured at
training (`model_card["gate"]["comparisons"]`); the active model is scored here on the same test
drivers, features and claims. An operator may force a model that fails, with a reason: the
reason and the failed comparisons go into the audit log and the model card."""

import datetime as dt

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.risk.features import feature_names_check
from apps.risk.models import RiskModel


def _champion_comparison(*, model: RiskModel, champion: RiskModel) -> dict:
    """The challenger's test deviance minus the champion's on the challenger's test drivers."""
    from apps.risk import modeling, scoring, selectors

    card = model.model_card
    data = card["data"]
    as_of = dt.date.fromisoformat(data["as_of"])
    frame = selectors.training_frame(
        as_of=as_of, window_days=int(data["window_days"]), follow_days=int(data["follow_days"]),
        claims_known_until=dt.date.fromisoformat(data["follow_period"][1]),
    )  # fmt: skip
    settings_used = {k: data[k] for k in ("as_of", "window_days", "follow_days", "seed")}
    if modeling.data_hash(frame.assign(**{k: str(v) for k, v in settings_used.items()})) != model.training_data_hash:
        return {"version": champion.version, "error": "the training data changed since training: not comparable"}
    parts = modeling.split_by_group(frame["driver_id"].to_numpy(), seed=int(data["seed"]))
    test = frame[parts == "test"]
    ids, challenger_values = selectors.features_chunk(model=model, as_of=as_of, driver_ids=test["driver_id"].tolist())
    champion_ids, champion_values = selectors.features_chunk(model=champion, as_of=as_of, driver_ids=ids.tolist())
    if len(champion_ids) < len(ids):
        keep = np.isin(ids, champion_ids)
        ids, challenger_values = ids[keep], challenger_values[keep]
    if not len(ids):
        return {"version": champion.version, "error": f"no test driver has {champion.window_days}-day features"}
    rows = test.set_index("driver_id").loc[ids]
    y, e = rows["claims"].to_numpy(dtype=float), rows["exposure"].to_numpy(dtype=float)
    challenger = scoring.expected_frequency(model=model, values=challenger_values) * e
    active = scoring.expected_frequency(model=champion, values=champion_values) * e
    result = modeling.paired_deviance_difference(y, e, ids, challenger, active, seed=int(data["seed"]))
    return {"version": champion.version, "test_drivers": len(ids), **result}


def risk_model_gate(*, model: RiskModel) -> dict:
    """The gate's comparisons and decision for `model` (nothing is written)."""
    from apps.risk import modeling, selectors

    gate = (model.model_card or {}).get("gate") or {}
    comparisons = dict(gate.get("comparisons") or {})
    family = (model.model_card or {}).get("family", "xgboost")
    missing = [name for name in modeling.GATE_COMPARATORS.get(family, ("constant", "glm")) if name not in comparisons]
    champion = selectors.risk_model_active()
    if champion is not None and champion.pk != model.pk:
        comparisons["active"] = _champion_comparison(model=model, champion=champion)
    failed = sorted(missing + [n for n, c in comparisons.items() if "error" in c or not modeling.gate_passed(c)])
    checked_at = timezone.now().isoformat()
    return {"family": family, "comparisons": comparisons, "passed": not failed, "failed": failed,
            "checked_at": checked_at}  # fmt: skip


def _gate_text(gate: dict) -> str:
    parts = []
    for name in gate["failed"]:
        row = gate["comparisons"].get(name)
        if row is None:
            parts.append(f"no {name} comparison (trained before the gate existed)")
        elif "error" in row:
            parts.append(f"{name} model {row.get('version', '')}: {row['error']}")
        else:
            parts.append(
                f"vs {name}: deviance difference {row['difference']:+.5f}, 95% interval "
                f"[{row['ci95'][0]:+.5f}, {row['ci95'][1]:+.5f}] does not lie below zero"
            )
    return "; ".join(parts)


def _card_decision(*, model: RiskModel, gate: dict, decision: str, user=None, reason: str = "") -> None:
    card = dict(model.model_card or {})
    card["activation"] = {**gate, "decision": decision, "reason": reason, "by": getattr(user, "username", None)}
    RiskModel.objects.filter(pk=model.pk).update(model_card=card)
    model.model_card = card


def risk_model_activate(*, model: RiskModel, user=None, force_reason: str = "") -> RiskModel:
    """Makes `model` the one active model (the previous one is deactivated in the same
    transaction). Refused if its features include a protected attribute, its artifact does not
    load, or it fails the gate; `force_reason` overrides the gate alone, and is audited."""
    from apps.risk import scoring

    feature_names_check(model.feature_names)
    if "portfolio_mean_frequency" not in (model.model_card or {}):
        raise ApplicationError(f"model {model.version} has no model card to score with", code="invalid_model")
    try:
        scoring.model_load(model)
    except (OSError, ValueError) as exc:
        raise ApplicationError(f"model {model.version}: artifact does not load ({exc})", code="invalid_model") from exc
    gate = risk_model_gate(model=model)
    force_reason = (force_reason or "").strip()
    if not gate["passed"] and not force_reason:
        _card_decision(model=model, gate=gate, decision="refused", user=user)
        audit_record(action="risk.model_activation_refused", actor=user, entity=model,
                     data={"version": model.version, "failed": gate["failed"]})  # fmt: skip
        raise ApplicationError(
            f"model {model.version} fails the activation gate: {_gate_text(gate)}. Keep the current model, or"
            " force it with a reason (recorded in the audit log).",
            code="gate_failed",
        )
    decision = "activated" if gate["passed"] else "forced"
    return _activate(model=model, user=user, gate=gate, decision=decision, reason=force_reason)


@transaction.atomic
def _activate(*, model: RiskModel, user, gate: dict, decision: str, reason: str) -> RiskModel:
    locked = list(RiskModel.objects.select_for_update().filter(Q(is_active=True) | Q(pk=model.pk)).order_by("pk"))
    previous = [m for m in locked if m.is_active and m.pk != model.pk]
    _card_decision(model=model, gate=gate, decision=decision, user=user, reason=reason)
    RiskModel.objects.filter(pk__in=[m.pk for m in previous]).update(is_active=False)
    RiskModel.objects.filter(pk=model.pk).update(is_active=True, activated_at=timezone.now(), activated_by=user)
    model.refresh_from_db()
    data = {"version": model.version, "previous": [m.version for m in previous], "gate": decision}
    if decision == "forced":
        data.update(reason=reason, failed=gate["failed"])
    audit_record(action="risk.model_activated", actor=user, entity=model, data=data)
    return model
