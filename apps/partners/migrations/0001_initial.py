# The partner models moved here from `accounts` (issue 14). Their tables stay where accounts
# created them (db_table "accounts_..."), so this migration only takes them over in Django's state,
# renames their constraints to this app's label (metadata only: no row is read or rewritten), and
# moves their content types, so that permissions, role groups and admin log entries keep pointing at
# them. accounts 0003 then drops them from its own state, after pricing 0005 has repointed its
# foreign keys.
import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED_MODELS = ["partner", "apitoken", "webhookendpoint", "webhookdelivery", "idempotencykey"]
CONSTRAINTS = [
    ("accounts_apitoken", "apitoken_scopes_known"),
    ("accounts_apitoken", "apitoken_key_hash_sha256"),
    ("accounts_webhookendpoint", "webhookendpoint_unique_url"),
    ("accounts_webhookendpoint", "webhookendpoint_events_known"),
    ("accounts_webhookdelivery", "webhookdelivery_status_valid"),
    ("accounts_webhookdelivery", "webhookdelivery_once_per_event"),
    ("accounts_idempotencykey", "idempotencykey_unique_key"),
]


def _rename_constraints(old: str, new: str) -> str:
    return "\n".join(
        f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old}_{name}" TO "{new}_{name}";' for table, name in CONSTRAINTS
    )


def _relabel(old: str, new: str):
    def run(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        rows = ContentType.objects.using(schema_editor.connection.alias)
        for model in MOVED_MODELS:
            if rows.filter(app_label=old, model=model).exists():
                # A row under the new label can only be an empty one made by a later post_migrate;
                # the old row is the one permissions, groups and the admin log point at.
                rows.filter(app_label=new, model=model).delete()
                rows.filter(app_label=old, model=model).update(app_label=new)
        ContentType.objects.clear_cache()

    return run


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    _rename_constraints("accounts", "partners"), reverse_sql=_rename_constraints("partners", "accounts")
                ),
                migrations.RunPython(_relabel("accounts", "partners"), _relabel("partners", "accounts")),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Partner",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=200, unique=True)),
                        ("slug", models.SlugField(max_length=60, unique=True)),
                        ("contact_email", models.EmailField(blank=True, max_length=254)),
                        ("is_active", models.BooleanField(default=True)),
                        ("requests_per_minute", models.PositiveIntegerField(default=6000)),
                    ],
                    options={
                        "db_table": "accounts_partner",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("url", models.URLField(max_length=500)),
                        ("secret", models.CharField(editable=False, max_length=100)),
                        (
                            "events",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.CharField(
                                    choices=[("score.changed", "Score Changed"), ("policy.updated", "Policy Updated")],
                                    max_length=40,
                                ),
                                default=list,
                                size=None,
                            ),
                        ),
                        ("is_active", models.BooleanField(default=True)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="webhooks",
                                to="partners.partner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "accounts_webhookendpoint",
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("event_type", models.CharField(max_length=40)),
                        ("event_id", models.UUIDField()),
                        ("payload", models.JSONField()),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                                default="pending",
                                max_length=12,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_status_code", models.PositiveIntegerField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("attempt_log", models.JSONField(blank=True, default=list)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "endpoint",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="partners.webhookendpoint",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "accounts_webhookdelivery",
                        "ordering": ["-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("key", models.CharField(max_length=255)),
                        ("method", models.CharField(max_length=8)),
                        ("path", models.CharField(max_length=500)),
                        ("request_hash", models.CharField(max_length=64)),
                        ("response_status", models.PositiveIntegerField(blank=True, null=True)),
                        ("response_body", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="partners.partner"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "accounts_idempotencykey",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("partner", "key"), name="partners_idempotencykey_unique_key"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=100)),
                        (
                            "prefix",
                            models.CharField(
                                help_text="First characters of the key, for lookup.", max_length=12, unique=True
                            ),
                        ),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        (
                            "scopes",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.CharField(
                                    choices=[
                                        ("drivers:read", "Drivers Read"),
                                        ("quotes:write", "Quotes Write"),
                                        ("policies:write", "Policies Write"),
                                        ("jobs:write", "Jobs Write"),
                                        ("metrics:read", "Metrics Read"),
                                    ],
                                    max_length=32,
                                ),
                                blank=True,
                                default=list,
                                size=None,
                            ),
                        ),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "partner",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="tokens",
                                to="partners.partner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "accounts_apitoken",
                        "ordering": ["-created_at"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "scopes__contained_by",
                                        [
                                            "drivers:read",
                                            "quotes:write",
                                            "policies:write",
                                            "jobs:write",
                                            "metrics:read",
                                        ],
                                    )
                                ),
                                name="partners_apitoken_scopes_known",
                                violation_error_message="Unknown scope.",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("key_hash__regex", "^[0-9a-f]{64}$")),
                                name="partners_apitoken_key_hash_sha256",
                            ),
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="webhookendpoint",
                    constraint=models.UniqueConstraint(
                        fields=("partner", "url"),
                        name="partners_webhookendpoint_unique_url",
                        violation_error_message="This partner already has a webhook at this URL.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="webhookendpoint",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("events__contained_by", ["score.changed", "policy.updated"])),
                        name="partners_webhookendpoint_events_known",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="webhookdelivery",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("status__in", ["pending", "delivered", "failed"])),
                        name="partners_webhookdelivery_status_valid",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="webhookdelivery",
                    constraint=models.UniqueConstraint(
                        fields=("endpoint", "event_id"), name="partners_webhookdelivery_once_per_event"
                    ),
                ),
            ],
        ),
    ]
