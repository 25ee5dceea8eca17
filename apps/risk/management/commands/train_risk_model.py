"""Train a claim-frequency model on the drivers' features and following-period claims.

manage.py train_risk_model                          # latest feature day with 30+ days since
manage.py train_risk_model --as-of 2025-06-30 --window-days 90 --follow-days 365
manage.py train_risk_model --queue                  # leave it to a Celery worker

The model is stored inactive; activate it with `manage.py activate_risk_model VERSION` or the admin
(the activation gate decides). Training refuses fewer claims than RISK_MIN_TRAINING_CLAIMS (200) in
its training part; `--min-claims` sets another minimum for one run.
"""

from django.core.management.base import BaseCommand

from apps.jobs.cli import job_run_from_command
from apps.risk.modeling import comparison_lines
from apps.risk.models import RiskModel


class Command(BaseCommand):
    help = "Train an XGBoost Poisson claim-frequency model beside a Poisson GLM (job risk.train)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", default="", help="feature day YYYY-MM-DD (default: latest usable)")
        parser.add_argument("--window-days", type=int, default=90)
        parser.add_argument("--follow-days", type=int, default=365, help="claims counted over this many days after")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split by driver and of XGBoost")
        parser.add_argument(
            "--min-claims", type=int, default=0, help="fewest training-part claims (default: RISK_MIN_TRAINING_CLAIMS)"
        )
        parser.add_argument("--queue", action="store_true", help="queue for a Celery worker instead of running here")

    def handle(self, *args, as_of, window_days, follow_days, seed, min_claims, queue, **options):
        params = {"as_of": as_of, "window_days": window_days, "follow_days": follow_days, "seed": seed,
                  "min_claims": min_claims}  # fmt: skip
        run = job_run_from_command(kind="risk.train", parameters=params, sync=not queue)
        if queue:
            self.stdout.write(f"queued risk.train as run #{run.pk}")
            return
        model = RiskModel.objects.get(version=run.result["version"])
        card = model.model_card
        self.stdout.write(
            f"model {model.version}{' (active)' if model.is_active else ' (inactive)'}: "
            f"{card['data']['drivers']} drivers, {card['data']['claims']} claims, "
            f"XGBoost {card['params']['trees']} trees depth {card['params']['max_depth']}; deployed family "
            f"{card.get('family', 'xgboost')} ({model.algorithm})"
        )
        for line in comparison_lines(model.metrics, card.get("size_tradeoff"), card.get("gate", {}).get("comparisons")):
            self.stdout.write(line)
        if "family_choice" in card:
            self.stdout.write(f"family: {card['family_choice']['rule']}")
        if not model.is_active:
            self.stdout.write(f"activate with: manage.py activate_risk_model {model.version}")
