# The payments fact table is range-partitioned by month on paid_at, which Django cannot
# express; the table is created with SQL and the model state is kept in step beside it.
# PostgreSQL needs the partition key in the primary key, so the key is (id, paid_at).
from django.conf import settings
import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0001_initial"),
        ("customers", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="""
CREATE TABLE transactions_payment (
    id bigint NOT NULL,
    paid_at timestamptz NOT NULL,
    customer_id bigint NOT NULL REFERENCES customers_customer (id) DEFERRABLE INITIALLY DEFERRED,
    card_id bigint NOT NULL REFERENCES customers_paymentcard (id) DEFERRABLE INITIALLY DEFERRED,
    amount numeric(12, 2) NOT NULL,
    method varchar(8) NOT NULL,
    merchant_id bigint NOT NULL,
    merchant_city varchar(100) NOT NULL DEFAULT '',
    merchant_state varchar(100) NOT NULL DEFAULT '',
    merchant_zip varchar(10) NOT NULL DEFAULT '',
    mcc varchar(4) NOT NULL REFERENCES transactions_merchantcategory (code) DEFERRABLE INITIALLY DEFERRED,
    errors varchar(40)[] NOT NULL DEFAULT '{}',
    is_fraud boolean NULL,
    fraud_score double precision NULL,
    ingest_run_id bigint NULL REFERENCES transactions_ingestrun (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT transactions_payment_pkey PRIMARY KEY (id, paid_at),
    CONSTRAINT transactions_payment_method_valid CHECK (method IN ('swipe', 'chip', 'online'))
) PARTITION BY RANGE (paid_at);
CREATE INDEX payment_customer_time_idx ON transactions_payment (customer_id, paid_at);
CREATE INDEX payment_card_time_idx ON transactions_payment (card_id, paid_at);
CREATE INDEX payment_mcc_idx ON transactions_payment (mcc);
""",
                    reverse_sql="DROP TABLE transactions_payment CASCADE;",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Payment",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("paid_at", models.DateTimeField()),
                        (
                            "amount",
                            models.DecimalField(decimal_places=2, help_text="Negative for a refund.", max_digits=12),
                        ),
                        (
                            "method",
                            models.CharField(
                                choices=[("swipe", "Swipe"), ("chip", "Chip"), ("online", "Online")],
                                max_length=8,
                            ),
                        ),
                        ("merchant_id", models.BigIntegerField()),
                        ("merchant_city", models.CharField(blank=True, max_length=100)),
                        ("merchant_state", models.CharField(blank=True, max_length=100)),
                        ("merchant_zip", models.CharField(blank=True, max_length=10)),
                        (
                            "errors",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.CharField(max_length=40),
                                blank=True,
                                default=list,
                                size=None,
                            ),
                        ),
                        ("is_fraud", models.BooleanField(blank=True, null=True)),
                        ("fraud_score", models.FloatField(blank=True, null=True)),
                        (
                            "card",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payments",
                                to="customers.paymentcard",
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payments",
                                to="customers.customer",
                            ),
                        ),
                        (
                            "ingest_run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="transactions.ingestrun",
                            ),
                        ),
                        (
                            "mcc",
                            models.ForeignKey(
                                db_column="mcc",
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="payments",
                                to="transactions.merchantcategory",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-paid_at"],
                    },
                ),
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(fields=["customer", "paid_at"], name="payment_customer_time_idx"),
                ),
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(fields=["card", "paid_at"], name="payment_card_time_idx"),
                ),
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(fields=["mcc"], name="payment_mcc_idx"),
                ),
                migrations.AddConstraint(
                    model_name="payment",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("method__in", ["swipe", "chip", "online"])),
                        name="transactions_payment_method_valid",
                    ),
                ),
            ],
        ),
    ]
