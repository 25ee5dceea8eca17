# The enriched_transactions materialized view (with the unique index REFRESH ... CONCURRENTLY
# needs), the SQL masking function for rejected-row text and the schema for staging tables.
# The SQL is frozen here as this migration first ran it: editing a .sql file never changes history.
import django.contrib.postgres.fields
from django.db import migrations, models

MASK_FUNCTION_SQL = r"""-- The masking rule for rejected-row text, the same as apps.transactions.ingest.readers.mask_line:
-- any run of 13-19 digits keeps only its last four; a 3-4 digit field right after it (a CVV) is
-- replaced too.
CREATE OR REPLACE FUNCTION transactions_mask_pan(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        regexp_replace(
            t,
            '(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])(\s*[,;|]\s*)[0-9]{3,4}(?![0-9])',
            '************\1\2***', 'g'),
        '(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])',
        '************\1', 'g')
$$;

-- Staging tables of ingest runs live apart from the application's tables.
CREATE SCHEMA IF NOT EXISTS ingest_staging;
"""

ENRICHED_TRANSACTIONS_SQL = r"""-- The analytics view over card payments: one row per payment with its customer, card, merchant
-- category and label, plus hour of day and day of week (UTC). Refreshed CONCURRENTLY (the unique
-- index makes that possible) so readers never wait for a refresh.
-- Customer gender is left out on purpose: it is a protected attribute, not an analytics feature.
CREATE MATERIALIZED VIEW enriched_transactions AS
SELECT p.id,
       p.paid_at,
       p.amount,
       p.amount < 0 AS is_refund,
       p.method,
       p.merchant_id,
       p.merchant_city,
       p.merchant_state,
       p.merchant_zip,
       p.mcc,
       m.description AS mcc_description,
       p.errors,
       p.is_fraud,
       p.fraud_score,
       p.customer_id,
       c.birth_year AS customer_birth_year,
       c.city AS customer_city,
       c.postal_area AS customer_postal_area,
       c.credit_score AS customer_credit_score,
       p.card_id,
       k.brand AS card_brand,
       k.card_type,
       k.has_chip AS card_has_chip,
       k.on_dark_web AS card_on_dark_web,
       extract(hour FROM p.paid_at AT TIME ZONE 'UTC')::smallint AS hour_of_day,
       extract(isodow FROM p.paid_at AT TIME ZONE 'UTC')::smallint AS day_of_week,
       p.ingest_run_id
FROM transactions_payment p
JOIN transactions_merchantcategory m ON m.code = p.mcc
JOIN customers_customer c ON c.id = p.customer_id
JOIN customers_paymentcard k ON k.id = p.card_id
WITH DATA;

CREATE UNIQUE INDEX enriched_transactions_pk ON enriched_transactions (id, paid_at);
CREATE INDEX enriched_transactions_paid_at_brin ON enriched_transactions USING brin (paid_at);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0002_payment_partitioned"),
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=MASK_FUNCTION_SQL,
            reverse_sql="DROP FUNCTION IF EXISTS transactions_mask_pan(text); DROP SCHEMA IF EXISTS ingest_staging CASCADE;",
        ),
        migrations.RunSQL(
            sql=ENRICHED_TRANSACTIONS_SQL,
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
