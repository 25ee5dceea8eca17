from django.core.management.base import BaseCommand, CommandError

from apps.common.exceptions import ApplicationError
from apps.risk.models import RiskModel
from apps.risk.services import risk_model_activate


class Command(BaseCommand):
    help = "Make a trained risk model the one active model (scores use it from then on)."

    def add_arguments(self, parser):
        parser.add_argument("version")

    def handle(self, *args, version, **options):
        model = RiskModel.objects.filter(version=version).first()
        if model is None:
            known = ", ".join(RiskModel.objects.values_list("version", flat=True)[:10]) or "none"
            raise CommandError(f"no risk model {version!r} (latest: {known})")
        try:
            model = risk_model_activate(model=model)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"risk model {model.version} is now active")
