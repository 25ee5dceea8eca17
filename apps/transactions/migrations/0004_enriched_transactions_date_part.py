# enriched_transactions computes hour of day and day of week with date_part (a float8) instead of
# extract (a numeric since PostgreSQL 14): the same values, and the refresh of 5 M rows spends
# about a second less on them. The view is dropped and built again with the new definition,
# frozen here; going back keeps it (the rows are equal).
from django.db import migrations

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
       date_part('hour', p.paid_at AT TIME ZONE 'UTC')::smallint AS hour_of_day,
       date_part('isodow', p.paid_at AT TIME ZONE 'UTC')::smallint AS day_of_week,
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
        ("transactions", "0003_enriched_transactions"),
    ]

    operations = [
        migrations.RunSQL(
            sql="DROP MATERIALIZED VIEW enriched_transactions;\n" + ENRICHED_TRANSACTIONS_SQL,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
