# The partner models now live in the partners app (partners 0001 took them over with their
# tables): accounts forgets them, in Django's state only; the tables and rows stay.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_role_groups"),
        ("partners", "0001_initial"),
        ("pricing", "0005_partner_in_partners_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="idempotencykey",
                    name="partner",
                ),
                migrations.RemoveField(
                    model_name="webhookendpoint",
                    name="partner",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="endpoint",
                ),
                migrations.DeleteModel(
                    name="ApiToken",
                ),
                migrations.DeleteModel(
                    name="IdempotencyKey",
                ),
                migrations.DeleteModel(
                    name="Partner",
                ),
                migrations.DeleteModel(
                    name="WebhookDelivery",
                ),
                migrations.DeleteModel(
                    name="WebhookEndpoint",
                ),
            ],
        ),
    ]
