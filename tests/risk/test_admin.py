from django.urls import reverse

from apps.jobs.models import JobRun
from apps.risk.models import RiskModel
from apps.risk.services import risk_model_train
from tests.risk.simulation import AS_OF, TODAY


def test_model_card_shows_both_models_calibration_importances_and_shap(client, role_user, active_model):
    client.force_login(role_user("analyst"))
    response = client.get(reverse("admin:risk_riskmodel_change", args=[active_model.pk]))
    assert response.status_code == 200
    page = response.content.decode().lower()
    expected = ["mean poisson deviance", "calibration by decile", "feature importances", "shap summary", "glm baseline",
                "model size vs accuracy", "harsh_brake_per_100km", "normalised gini", "activation gate",
                "decision", "activated", "calibration check", "fairness report"]  # fmt: skip
    for text in expected:
        assert text in page, text
    listing = client.get(reverse("admin:risk_riskmodel_changelist"))
    assert listing.status_code == 200 and active_model.version in listing.content.decode()


def test_activate_action_switches_the_active_model(client, role_user, gate_world):
    _, other = gate_world
    client.force_login(role_user("back_office"))
    response = client.post(
        reverse("admin:risk_riskmodel_changelist"), {"action": "activate", "_selected_action": [other.pk]}, follow=True
    )
    assert response.status_code == 200
    assert list(RiskModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [other.pk]


def test_activate_action_refuses_a_model_failing_the_gate(client, role_user, active_model):
    other = risk_model_train(as_of=AS_OF, today=TODAY, seed=3)
    client.force_login(role_user("back_office"))
    response = client.post(
        reverse("admin:risk_riskmodel_changelist"), {"action": "activate", "_selected_action": [other.pk]}, follow=True
    )
    assert "fails the activation gate" in response.content.decode()
    assert RiskModel.objects.get(is_active=True).pk == active_model.pk


def test_analyst_cannot_activate(client, role_user, active_model):
    other = risk_model_train(as_of=AS_OF, today=TODAY, seed=3)
    client.force_login(role_user("analyst"))
    client.post(reverse("admin:risk_riskmodel_changelist"), {"action": "activate", "_selected_action": [other.pk]})
    assert RiskModel.objects.get(is_active=True).pk == active_model.pk


def test_ops_starts_batch_scoring_from_the_admin(client, role_user, active_model):
    client.force_login(role_user("ops"))
    client.post(
        reverse("admin:risk_riskmodel_changelist"),
        {"action": "score_all_drivers", "_selected_action": [active_model.pk]},
    )
    assert JobRun.objects.filter(kind="risk.score_drivers").count() == 1


def test_score_page_shows_reasons(client, role_user, active_model, simulated):
    from apps.risk.models import RiskScore
    from apps.risk.services import drivers_score

    drivers_score(driver_ids=[int(simulated[0][0])])
    score = RiskScore.objects.get()
    client.force_login(role_user("analyst"))
    response = client.get(reverse("admin:risk_riskscore_change", args=[score.pk]))
    assert response.status_code == 200
    assert score.reasons[0]["text"].split(",")[0] in response.content.decode()
