"""The webhook signing secret was kept in clear: it is encrypted in place under
FLEETOPS_ENCRYPTION_KEY (apps.common.crypto) and the column renamed to say so. Reversible: the
reverse decrypts (with the same key)."""

from django.db import migrations, models

from apps.common import crypto


def encrypt_secrets(apps, schema_editor):
    endpoints = apps.get_model("partners", "WebhookEndpoint").objects.using(schema_editor.connection.alias)
    for endpoint in endpoints.order_by("pk").only("pk", "secret"):
        endpoints.filter(pk=endpoint.pk).update(secret=crypto.encrypt(endpoint.secret))


def decrypt_secrets(apps, schema_editor):
    endpoints = apps.get_model("partners", "WebhookEndpoint").objects.using(schema_editor.connection.alias)
    for endpoint in endpoints.order_by("pk").only("pk", "secret"):
        endpoints.filter(pk=endpoint.pk).update(secret=crypto.decrypt(endpoint.secret))


class Migration(migrations.Migration):
    dependencies = [("partners", "0002_idempotencykey_created_at_index")]

    operations = [
        migrations.AlterField(model_name="webhookendpoint", name="secret", field=models.TextField(editable=False)),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RenameField(model_name="webhookendpoint", old_name="secret", new_name="secret_encrypted"),
    ]
