# enriched_transactions becomes a plain view (issue 20). As a materialized view it was a second
# copy of every payment, written again in full after every delivery (10.6 s of a 36 s ingest of
# 5 M rows, and REFRESH CONCURRENTLY diffs all history, so its cost grew with the data, not with
# the delivery). The view joins transactions_payment to three small tables (customers, cards,
# merchant categories); the joins are LEFT JOINs on their primary keys so that PostgreSQL drops
# the ones a query does not read (the payments' foreign keys are NOT NULL and enforced, so every
# payment has its three rows: the rows are those of the inner joins before). The two indexes the
# ops payments list read on the materialized view (migration 0005) move to the payments table,
# where every month table gets them (the ingest builds them with the others).
# Reversible: going back builds the materialized view again (0004's definition and 0005's indexes).
from importlib import import_module

from django.db import migrations, models

MATERIALIZED_VIEW_0004 = import_module(
    "apps.transactions.migrations.0004_enriched_transactions_date_part"
).ENRICHED_TRANSACTIONS_SQL
LIST_INDEXES_0005 = (
    "CREATE INDEX enriched_transactions_newest ON enriched_transactions (paid_at DESC NULLS LAST, id);\n"
    "CREATE INDEX enriched_transactions_newest_frauds ON enriched_transactions (paid_at DESC NULLS LAST, id)"
    " WHERE is_fraud;\n"
)

ENRICHED_TRANSACTIONS_VIEW = r"""-- The analytics view over card payments: one row per payment with its customer, card, merchant
-- category and label, plus hour of day and day of week (UTC). Nothing to refresh.
-- Customer gender is left out on purpose: it is a protected attribute, not an analytics feature.
CREATE VIEW enriched_transactions AS
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
       date_part('hour', p.paid_at AT TIME ZONE 'UTC')::smallint AS hour_of_day,
       date_part('isodow', p.paid_at AT TIME ZONE 'UTC')::smallint AS day_of_week,
       p.ingest_run_id
FROM transactions_payment p
LEFT JOIN transactions_merchantcategory m ON m.code = p.mcc
LEFT JOIN customers_customer c ON c.id = p.customer_id
LEFT JOIN customers_paymentcard k ON k.id = p.card_id;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_driver_choices_erasure_notifications"),
        ("transactions", "0005_enriched_transactions_list_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                models.OrderBy(models.F("paid_at"), descending=True, nulls_last=True),
                models.F("id"),
                name="payment_newest_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                models.OrderBy(models.F("paid_at"), descending=True, nulls_last=True),
                models.F("id"),
                condition=models.Q(("is_fraud", True)),
                name="payment_newest_frauds_idx",
            ),
        ),
        migrations.RunSQL(
            sql="DROP MATERIALIZED VIEW enriched_transactions;\n" + ENRICHED_TRANSACTIONS_VIEW,
            reverse_sql="DROP VIEW enriched_transactions;\n" + MATERIALIZED_VIEW_0004 + LIST_INDEXES_0005,
        ),
    ]
