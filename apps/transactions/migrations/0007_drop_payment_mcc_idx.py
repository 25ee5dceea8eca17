# The index on transactions_payment.mcc goes (issue 20): no page or job needs it. Measured on 5 M
# payments (bench/RESULTS.md, 2026-12-07): of the product's queries only the back office's
# deletion of a merchant category (its protected payments and the foreign key's check: 0.7 s for
# the confirmation page and 1.6 s for the deletion without it) and a category's fraud dashboard
# computed again after the cache lost it (2.1 s instead of 1.6 s) read it; the ops list by
# category reads the newest-first index. Every delivery built it on every month table: 0.54 s of
# CPU per million payments, the costliest of the table's indexes. Reversible (built again).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0006_enriched_transactions_plain_view"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="payment",
            name="payment_mcc_idx",
        ),
    ]
