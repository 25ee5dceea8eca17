# The ops console's payments list reads enriched_transactions newest first, a page at a time, and
# its drill-downs from the fraud dashboard list only frauds. On two million payments both were
# full scans and sorts (about 700 ms a page, bench/ops_pages.py); with these the page reads its
# rows from an index. The order is the list's own (paid_at DESC NULLS LAST, then id).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0004_enriched_transactions_date_part"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX enriched_transactions_newest ON enriched_transactions (paid_at DESC NULLS LAST, id);"
                "CREATE INDEX enriched_transactions_newest_frauds ON enriched_transactions (paid_at DESC NULLS LAST, id)"
                " WHERE is_fraud;"
            ),
            reverse_sql=(
                "DROP INDEX IF EXISTS enriched_transactions_newest;"
                "DROP INDEX IF EXISTS enriched_transactions_newest_frauds;"
            ),
        ),
    ]
