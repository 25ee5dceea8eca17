# Partner moved from accounts to partners (issue 14) with its table: these foreign keys point at the
# same table and column as before, so only Django"s state changes (no constraint is dropped,
# re-created or re-validated).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("pricing", "0004_quote_immutable_trigger"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="partnerjob",
                    name="partner",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="partners.partner"
                    ),
                ),
                migrations.AlterField(
                    model_name="policy",
                    name="partner",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="policies", to="partners.partner"
                    ),
                ),
                migrations.AlterField(
                    model_name="premiumchange",
                    name="partner",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="partners.partner"
                    ),
                ),
                migrations.AlterField(
                    model_name="quote",
                    name="partner",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="quotes",
                        to="partners.partner",
                    ),
                ),
            ],
        ),
    ]
