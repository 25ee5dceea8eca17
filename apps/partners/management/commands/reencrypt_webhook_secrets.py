"""After rotating FLEETOPS_ENCRYPTION_KEY (new key set, old key moved to
FLEETOPS_ENCRYPTION_KEY_FALLBACKS): re-encrypts every stored webhook signing secret under the new
key, so the fallback can then be dropped. The secrets themselves (what partners verify with) do
not change."""

from django.core.management.base import BaseCommand, CommandError

from apps.common.crypto import SecretUndecryptable
from apps.partners.webhooks import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypts the webhook signing secrets under the current FLEETOPS_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        try:
            total, changed = webhook_secrets_reencrypt()
        except SecretUndecryptable as exc:
            raise CommandError(
                f"{exc}: keep the old key in FLEETOPS_ENCRYPTION_KEY_FALLBACKS until this succeeds; nothing changed"
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{changed} of {total} webhook secrets re-encrypted; the rest were already under the current key"
            )
        )
