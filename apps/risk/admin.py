from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.common.admin import ReadOnlyModelAdmin
from apps.common.exceptions import ApplicationError
from apps.jobs.selectors import user_can_operate_jobs
from apps.jobs.services import job_start
from apps.risk.models import Claim, RiskModel, RiskScore
from apps.risk.selectors import risk_model_card
from apps.risk.services import risk_model_activate


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ("id", "driver", "occurred_at", "kind", "status", "amount")
    list_filter = ("kind", "status")
    search_fields = ("=id", "=driver__id", "driver__last_name", "driver__email")
    date_hierarchy = "occurred_at"
    autocomplete_fields = ("driver", "vehicle")
    raw_id_fields = ("policy", "trip")
    list_select_related = ("driver",)


def _table(headers: list[str], rows: list[list]) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html('<table class="risk-card"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value, digits=4):
    return "—" if value is None else f"{value:.{digits}f}"


@admin.register(RiskModel)
class RiskModelAdmin(ReadOnlyModelAdmin):
    list_display = (
        "version",
        "as_of",
        "is_active",
        "drivers",
        "xgb_deviance",
        "glm_deviance",
        "xgb_gini",
        "created_at",
    )
    list_filter = ("is_active",)
    search_fields = ("version",)
    actions = ["activate", "score_all_drivers"]
    fields = (
        "version",
        "algorithm",
        "is_active",
        "activated_at",
        "activated_by",
        "as_of",
        "window_days",
        "artifact_path",
        "training_data_hash",
        "feature_names",
        "card_metrics",
        "card_gate",
        "card_calibration",
        "card_calibration_check",
        "card_fairness",
        "card_size_tradeoff",
        "card_importances",
        "card_shap",
        "card_glm",
        "card_data",
    )
    readonly_fields = fields

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("risk.change_riskmodel")

    def has_score_permission(self, request) -> bool:
        return user_can_operate_jobs(request.user)

    @admin.action(description="Activate the selected model (one active at a time)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return
        try:
            model = risk_model_activate(model=queryset.get(), user=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{model.version} is now the active risk model.", messages.SUCCESS)

    @admin.action(description="Score every driver with the active model (job)", permissions=["score"])
    def score_all_drivers(self, request, queryset):
        if not queryset.filter(is_active=True).exists():
            self.message_user(request, "Scoring uses the active model: select the active one.", messages.ERROR)
            return
        try:
            run = job_start(kind="risk.score_drivers", parameters={}, user=request.user, trigger="manual")
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"Scoring queued as job run #{run.pk}.", messages.SUCCESS)

    @admin.display(description="drivers")
    def drivers(self, obj):
        return (obj.model_card or {}).get("data", {}).get("drivers")

    @admin.display(description="XGBoost deviance")
    def xgb_deviance(self, obj):
        return _num((obj.metrics or {}).get("xgboost", {}).get("mean_poisson_deviance"))

    @admin.display(description="GLM deviance")
    def glm_deviance(self, obj):
        return _num((obj.metrics or {}).get("glm", {}).get("mean_poisson_deviance"))

    @admin.display(description="XGBoost norm. Gini")
    def xgb_gini(self, obj):
        return _num((obj.metrics or {}).get("xgboost", {}).get("normalised_gini"), 3)

    @admin.display(description="test metrics (XGBoost vs the GLMs and the constant)")
    def card_metrics(self, obj):
        metrics = obj.metrics or {}
        names = [n for n in ("xgboost", "glm", "glm_linear", "constant") if n in metrics]
        if not {"xgboost", "glm"} <= set(names):
            return "—"
        rows = [
            [label, *(_num(metrics[n].get(key), digits) for n in names)]
            for key, label, digits in (
                ("mean_poisson_deviance", "mean Poisson deviance", 4),
                ("d2", "D²", 4),
                ("gini", "Gini (Lorenz, exposure)", 4),
                ("normalised_gini", "normalised Gini", 4),
                ("total_predicted", "total predicted claims", 1),
                ("total_observed", "total observed claims", 0),
                ("exposure", "exposure (years)", 1),
            )
        ]
        labels = {"xgboost": "XGBoost", "glm": "GLM (standard)", "glm_linear": "GLM (linear)", "constant": "constant"}
        return _table(["test part", *(labels[n] for n in names)], rows)

    @admin.display(description="activation gate (test deviance minus each comparator's, bootstrap 95% interval)")
    def card_gate(self, obj):
        card = risk_model_card(model=obj)
        rows = [
            [r["against"] + (f" ({r['version']})" if r["version"] else ""),
             r["error"] or f"{r['difference']:+.5f} [{r['ci95'][0]:+.5f}, {r['ci95'][1]:+.5f}]",
             "passed" if r["passed"] else "FAILED"]
            for r in card["gate"]
        ]  # fmt: skip
        rows.append(["decision", card["decision"] + (f": {card['decision_reason']}" if card["decision_reason"] else ""),
                     card["decision_by"] or ""])  # fmt: skip
        return _table(["against", "deviance difference", ""], rows)

    @admin.display(description="calibration check (worst decile with 30+ claims, predicted / observed - 1)")
    def card_calibration_check(self, obj):
        calibration = risk_model_card(model=obj)["calibration"]
        if not calibration:
            return "—"
        rows = [
            [label, _pct(calibration[key]["worst_decile_error"])]
            for key, label in (("validation_before", "validation, before"), ("test_before", "test, before correction"),
                               ("test_after", "test, as scored"))
        ]  # fmt: skip
        rows.append(["correction", "applied" if calibration["corrected"] else "none"])
        return _table(["", ""], rows)

    @admin.display(description="fairness report (monitoring only: never a feature or a rating factor)")
    def card_fairness(self, obj):
        fairness = risk_model_card(model=obj)["fairness"]
        rows = [
            [group, r["group"], r["drivers"], _num(r.get("mean_expected_frequency"), 4), _num(r.get("ratio_score"), 3),
             _num(r.get("mean_premium"), 2), _num(r.get("ratio_premium"), 3)]
            for group, table in fairness.get("groups", {}).items()
            for r in table
        ]  # fmt: skip
        headers = ["by", "group", "drivers", "mean expected frequency", "ratio", "mean premium", "ratio"]
        return _table(headers, rows) if rows else "—"

    @admin.display(description="calibration by decile")
    def card_calibration(self, obj):
        xgb, glm = (obj.metrics or {}).get("xgboost"), (obj.metrics or {}).get("glm")
        if not xgb or not glm:
            return "—"
        rows = [
            [x["decile"], x["rows"], _num(x["predicted_claims"], 1), x["observed_claims"],
             _num(g["predicted_claims"], 1), g["observed_claims"]]
            for x, g in zip(xgb["calibration"], glm["calibration"], strict=False)
        ]  # fmt: skip
        headers = ["decile", "drivers", "XGBoost predicted", "observed", "GLM predicted", "observed"]
        return _table(headers, rows)

    @admin.display(description="model size vs accuracy and SHAP cost (chosen on validation)")
    def card_size_tradeoff(self, obj):
        rows = [
            [r["model"], r["trees"], r["max_depth"], r.get("eta", "—"), _num(r.get("validation_mean_poisson_deviance")),
             _num(r.get("test_mean_poisson_deviance")), _num(r.get("test_normalised_gini"), 3),
             f"{r['pred_contribs_rows_per_s_1_thread']:,}" if "pred_contribs_rows_per_s_1_thread" in r else "—"]
            for r in (obj.model_card or {}).get("size_tradeoff", [])
        ]  # fmt: skip
        headers = ["model", "trees", "depth", "eta", "validation deviance", "test deviance", "norm. Gini",
                   "SHAP rows/s (1 thread)"]  # fmt: skip
        return _table(headers, rows) if rows else "—"

    @admin.display(description="feature importances (share of total gain)")
    def card_importances(self, obj):
        rows = [
            [r["feature"], f"{r['total_gain_share']:.1%}"]
            for r in (obj.model_card or {}).get("feature_importances", [])
        ]
        return _table(["feature", "gain share"], rows) if rows else "—"

    @admin.display(
        description="SHAP summary of the test part (XGBoost: shap.TreeExplainer on up to 5,000 drivers; GLM: its"
        " terms against the median driver)"
    )
    def card_shap(self, obj):
        rows = [
            [r["feature"], _num(r["mean_abs_shap"]), f"{r['share']:.1%}",
             "—" if r["value_shap_correlation"] is None else f"{r['value_shap_correlation']:+.2f}"]
            for r in (obj.model_card or {}).get("shap_summary_test", [])
        ]  # fmt: skip
        headers = ["feature", "mean |SHAP| (log frequency)", "share", "corr(value, SHAP)"]
        return _table(headers, rows) if rows else "—"

    @admin.display(description="GLM baseline coefficients")
    def card_glm(self, obj):
        rows = [
            [r["term"], _num(r["coefficient"], 5), _num(r["rate_ratio"]), _num(r["p_value"])]
            for r in (obj.model_card or {}).get("glm_coefficients", [])
        ]
        return _table(["term", "coefficient", "rate ratio", "p-value"], rows) if rows else "—"

    @admin.display(description="training data")
    def card_data(self, obj):
        data = (obj.model_card or {}).get("data", {})
        split = (obj.metrics or {}).get("split", {})
        rows = [[key.replace("_", " "), value] for key, value in data.items()]
        rows += [[f"{part} part", f"{s['groups']} drivers, {s['claims']:.0f} claims"] for part, s in split.items()]
        mean = (obj.model_card or {}).get("portfolio_mean_frequency")
        if mean is not None:
            rows.append(["portfolio mean frequency (claims/year)", _num(mean, 5)])
        return _table(["", ""], rows) if rows else "—"


@admin.register(RiskScore)
class RiskScoreAdmin(ReadOnlyModelAdmin):
    list_display = ("driver", "as_of", "safety_score", "band", "expected_claims_per_year", "relative_risk", "model")
    list_filter = ("band", "model", "as_of")
    search_fields = ("=driver__id", "driver__last_name", "driver__email")
    list_select_related = ("driver", "model")
    date_hierarchy = "as_of"
    fields = (
        "driver",
        "model",
        "as_of",
        "expected_claims_per_year",
        "relative_risk",
        "safety_score",
        "band",
        "reason_list",
        "contributions",
        "base_value",
        "features",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="reasons")
    def reason_list(self, obj):
        return format_html_join(mark_safe("<br>"), "{}", ((r["text"],) for r in obj.reasons or [])) or "—"
