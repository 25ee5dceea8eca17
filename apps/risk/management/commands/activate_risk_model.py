from django.core.management.base import BaseCommand, CommandError

from apps.common.exceptions import ApplicationError
from apps.risk.models import RiskModel
from apps.risk.services import risk_model_activate


class Command(BaseCommand):
    help = (
        "Make a trained risk model the one active model (scores use it from then on), if it passes the"
        " activation gate: its test deviance beats the constant model, the GLM and the active model."
    )

    def add_arguments(self, parser):
        parser.add_argument("version")
        parser.add_argument(
            "--force-reason", default="", help="activate despite a failed gate; recorded in the audit log"
        )

    def handle(self, *args, version, force_reason, **options):
        model = RiskModel.objects.filter(version=version).first()
        if model is None:
            known = ", ".join(RiskModel.objects.values_list("version", flat=True)[:10]) or "none"
            raise CommandError(f"no risk model {version!r} (latest: {known})")
        try:
            model = risk_model_activate(model=model, force_reason=force_reason)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        decision = model.model_card["activation"]
        for name, row in decision["comparisons"].items():
            if "error" in row:
                self.stdout.write(f"  vs {name}: {row['error']}")
            else:
                low, high = row["ci95"]
                self.stdout.write(
                    f"  vs {name}: deviance difference {row['difference']:+.5f} [{low:+.5f}, {high:+.5f}]"
                )
        forced = f" (FORCED past the gate: {force_reason})" if decision["decision"] == "forced" else ""
        self.stdout.write(f"risk model {model.version} is now active{forced}")
