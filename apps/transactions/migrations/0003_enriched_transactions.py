# The enriched_transactions materialized view (with the unique index REFRESH ... CONCURRENTLY
# needs), the SQL masking function for rejected-row text and the schema for staging tables.
from pathlib import Path

import django.contrib.postgres.fields
from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0002_payment_partitioned"),
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "mask_function.sql").read_text(),
            reverse_sql="DROP FUNCTION IF EXISTS transactions_mask_pan(text); DROP SCHEMA IF EXISTS ingest_staging CASCADE;",
        ),
        migrations.RunSQL(
            sql=(SQL_DIR / "enriched_transactions.sql").read_text(),
            reverse_sql="DROP MATERIALIZED VIEW IF EXISTS enriched_transactions;",
        ),
        migrations.CreateModel(
            name="EnrichedTransaction",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("paid_at", models.DateTimeField()),
                ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                ("is_refund", models.BooleanField()),
                (
                    "method",
                    models.CharField(
                        choices=[("swipe", "Swipe"), ("chip", "Chip"), ("online", "Online")], max_length=8
                    ),
                ),
                ("merchant_id", models.BigIntegerField()),
                ("merchant_city", models.CharField(max_length=100)),
                ("merchant_state", models.CharField(max_length=100)),
                ("merchant_zip", models.CharField(max_length=10)),
                ("mcc", models.CharField(max_length=4)),
                ("mcc_description", models.CharField(max_length=255)),
                (
                    "errors",
                    django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=40), size=None),
                ),
                ("is_fraud", models.BooleanField(null=True)),
                ("fraud_score", models.FloatField(null=True)),
                ("customer_id", models.BigIntegerField()),
                ("customer_birth_year", models.PositiveSmallIntegerField(null=True)),
                ("customer_city", models.CharField(max_length=100)),
                ("customer_postal_area", models.CharField(max_length=10)),
                ("customer_credit_score", models.PositiveSmallIntegerField(null=True)),
                ("card_id", models.BigIntegerField()),
                ("card_brand", models.CharField(max_length=12)),
                ("card_type", models.CharField(max_length=10)),
                ("card_has_chip", models.BooleanField()),
                ("card_on_dark_web", models.BooleanField()),
                ("hour_of_day", models.SmallIntegerField()),
                ("day_of_week", models.SmallIntegerField(help_text="ISO day of week, 1 = Monday.")),
                ("ingest_run_id", models.BigIntegerField(null=True)),
            ],
            options={"db_table": "enriched_transactions", "ordering": ["-paid_at"], "managed": False},
        ),
    ]
