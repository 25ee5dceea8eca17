from django.shortcuts import render

from apps.ops.selectors import risk as selectors
from apps.ops.views.base import staff_required


@staff_required
def risk(request):
    model = selectors.risk_model_active()
    context = {"model": model, "premiums": selectors.premium_summary()}
    if model:
        comparison = selectors.model_comparison(model)
        context.update(
            comparison=comparison,
            comparison_chart=selectors.comparison_chart(comparison),
            calibration=selectors.calibration_chart(model),
            verdict=selectors.model_verdict(model),
            drift=selectors.drift_summary(model),
            shap=selectors.shap_summary(model),
            scores=selectors.score_distribution(model),
            bands=selectors.band_counts(model),
        )
    return render(request, "ops/risk.html", context)
