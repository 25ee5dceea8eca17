from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.common.models import TimeStampedModel


class Rental(TimeStampedModel):
    class Status(models.TextChoices):
        RESERVED = "reserved"
        ACTIVE = "active"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="rentals")
    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.PROTECT, related_name="rentals")
    pickup_store = models.ForeignKey("regions.Store", on_delete=models.PROTECT, related_name="pickups")
    return_store = models.ForeignKey(
        "regions.Store", on_delete=models.PROTECT, related_name="returns", null=True, blank=True
    )
    salesperson = models.ForeignKey(
        "regions.Salesperson", on_delete=models.PROTECT, related_name="rentals", null=True, blank=True
    )
    payment_card = models.ForeignKey(
        "customers.PaymentCard", on_delete=models.PROTECT, related_name="rentals", null=True, blank=True
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    rented_at = models.DateTimeField()
    due_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)
    daily_rate = models.DecimalField(max_digits=8, decimal_places=2)
    rental_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    insurance_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    discount_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    total_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    odometer_out_km = models.PositiveIntegerField(null=True, blank=True)
    odometer_in_km = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-rented_at"]
        indexes = [
            models.Index(fields=["customer", "rented_at"], name="rental_customer_date_idx"),
            models.Index(fields=["vehicle", "rented_at"], name="rental_vehicle_date_idx"),
            models.Index(fields=["pickup_store", "rented_at"], name="rental_store_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_at__gt=F("rented_at")), name="%(app_label)s_%(class)s_due_after_start"
            ),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True) | Q(returned_at__gt=F("rented_at")),
                name="%(app_label)s_%(class)s_return_after_start",
                violation_error_message="A rental is returned after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(daily_rate__gte=0, rental_amount__gte=0, insurance_amount__gte=0, discount_amount__gte=0)
                & Q(total_amount__gte=0),
                name="%(app_label)s_%(class)s_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(odometer_in_km__isnull=True)
                | Q(odometer_out_km__isnull=True)
                | Q(odometer_in_km__gte=F("odometer_out_km")),
                name="%(app_label)s_%(class)s_odometer_forward",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["reserved", "active", "completed", "cancelled"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(returned_at__isnull=False),
                name="%(app_label)s_%(class)s_completed_has_return",
            ),
        ]

    def __str__(self) -> str:
        return f"Rental {self.pk} {self.customer_id}/{self.vehicle_id}"


class MerchantCategory(models.Model):
    """ISO 18245 merchant category code (the official list, plus codes a file brings)."""

    code = models.CharField(max_length=4, primary_key=True)
    description = models.CharField(max_length=255)
    source = models.CharField(max_length=16, default="iso18245")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "merchant categories"
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{4}$"), name="%(app_label)s_%(class)s_code_digits"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class IngestRun(models.Model):
    """One run of the payments ELT pipeline: its ledger, progress and outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=40, blank=True)
    sources = models.JSONField(default=list, blank=True, help_text="Files of the run with their sizes and checksums.")
    source_tz = models.CharField(max_length=64, default="UTC")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_loaded = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    rows_duplicate = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="succeeded")
                | Q(rows_read=F("rows_loaded") + F("rows_rejected") + F("rows_duplicate")),
                name="%(app_label)s_%(class)s_counts_balance",
                violation_error_message="read = loaded + rejected + duplicate must hold for a finished run.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(rows_read__gte=0, rows_loaded__gte=0, rows_rejected__gte=0, rows_duplicate__gte=0),
                name="%(app_label)s_%(class)s_counts_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Ingest run {self.pk} ({self.status})"


class RejectedRow(models.Model):
    class Reason(models.TextChoices):
        BAD_AMOUNT = "bad_amount", "Unparseable amount"
        BAD_DATE = "bad_date", "Unparseable date"
        UNKNOWN_CLIENT = "unknown_client", "Unknown client"
        UNKNOWN_CARD = "unknown_card", "Unknown card"
        CARD_CLIENT_MISMATCH = "card_client_mismatch", "Card of another client"
        UNKNOWN_MCC = "unknown_mcc", "Unknown MCC"
        COLUMN_COUNT = "column_count", "Wrong column count"
        BAD_QUOTING = "bad_quoting", "Broken quoting"
        BAD_ENCODING = "bad_encoding", "Invalid UTF-8"
        DUPLICATE_IN_FILE = "duplicate_in_file", "Duplicate transaction id within the file"
        UNKNOWN_TRANSACTION = "unknown_transaction", "Label for an unknown transaction"
        BAD_VALUE = "bad_value", "Invalid value"

    run = models.ForeignKey(IngestRun, on_delete=models.PROTECT, related_name="rejected_rows")
    file_name = models.CharField(max_length=255)
    line_number = models.BigIntegerField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    detail = models.TextField(blank=True)
    raw_line = models.TextField(blank=True, help_text="The line as read, card numbers and CVVs masked.")

    class Meta:
        ordering = ["run", "file_name", "line_number"]
        indexes = [models.Index(fields=["run", "reason"], name="rejected_run_reason_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(line_number__gte=1), name="%(app_label)s_%(class)s_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name}:{self.line_number} {self.reason}"


class Payment(models.Model):
    """A card-payment fact. The table is range-partitioned by month on `paid_at` (created by
    migration 0002 with SQL); its primary key in PostgreSQL is (id, paid_at), `id` being the
    processor's transaction id, unique per delivery stream."""

    class Method(models.TextChoices):
        SWIPE = "swipe"
        CHIP = "chip"
        ONLINE = "online"

    id = models.BigIntegerField(primary_key=True)
    paid_at = models.DateTimeField()
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="payments")
    card = models.ForeignKey("customers.PaymentCard", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Negative for a refund.")
    method = models.CharField(max_length=8, choices=Method.choices)
    merchant_id = models.BigIntegerField()
    merchant_city = models.CharField(max_length=100, blank=True)
    merchant_state = models.CharField(max_length=100, blank=True)
    merchant_zip = models.CharField(max_length=10, blank=True)
    mcc = models.ForeignKey(MerchantCategory, on_delete=models.PROTECT, related_name="payments", db_column="mcc")
    errors = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    is_fraud = models.BooleanField(null=True, blank=True)
    fraud_score = models.FloatField(null=True, blank=True)
    ingest_run = models.ForeignKey(IngestRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-paid_at"]
        indexes = [
            models.Index(fields=["customer", "paid_at"], name="payment_customer_time_idx"),
            models.Index(fields=["card", "paid_at"], name="payment_card_time_idx"),
            # No index on mcc (migration 0007): only the back office's deletion of a merchant
            # category and a category's dashboard recomputed after the cache lost it read one,
            # and both stay under 2.2 s on 5 M payments without it, while every delivery paid
            # 0.54 s of CPU per million payments to build it.
            # The ops payments list, newest first a page at a time (its order: paid_at DESC NULLS
            # LAST, then id), and the newest payment; the second for its frauds-only drill-downs.
            models.Index(F("paid_at").desc(nulls_last=True), F("id"), name="payment_newest_idx"),
            models.Index(
                F("paid_at").desc(nulls_last=True),
                F("id"),
                name="payment_newest_frauds_idx",
                condition=Q(is_fraud=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=["swipe", "chip", "online"]), name="%(app_label)s_%(class)s_method_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} {self.amount}"


class EnrichedTransaction(models.Model):
    """Read-only rows of the `enriched_transactions` view (migration 0006): a payment with its
    customer, card, merchant category, label, hour of day and day of week (UTC). A plain view
    over transactions_payment and three small tables, so nothing is ever refreshed: a payment is
    in it as soon as its ingest commits, a fraud score as soon as it is written."""

    id = models.BigIntegerField(primary_key=True)
    paid_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    is_refund = models.BooleanField()
    method = models.CharField(max_length=8, choices=Payment.Method.choices)
    merchant_id = models.BigIntegerField()
    merchant_city = models.CharField(max_length=100)
    merchant_state = models.CharField(max_length=100)
    merchant_zip = models.CharField(max_length=10)
    mcc = models.CharField(max_length=4)
    mcc_description = models.CharField(max_length=255)
    errors = ArrayField(models.CharField(max_length=40))
    is_fraud = models.BooleanField(null=True)
    fraud_score = models.FloatField(null=True)
    customer_id = models.BigIntegerField()
    customer_birth_year = models.PositiveSmallIntegerField(null=True)
    customer_city = models.CharField(max_length=100)
    customer_postal_area = models.CharField(max_length=10)
    customer_credit_score = models.PositiveSmallIntegerField(null=True)
    card_id = models.BigIntegerField()
    card_brand = models.CharField(max_length=12)
    card_type = models.CharField(max_length=10)
    card_has_chip = models.BooleanField()
    card_on_dark_web = models.BooleanField()
    hour_of_day = models.SmallIntegerField()
    day_of_week = models.SmallIntegerField(help_text="ISO day of week, 1 = Monday.")
    ingest_run_id = models.BigIntegerField(null=True)

    class Meta:
        managed = False
        db_table = "enriched_transactions"
        ordering = ["-paid_at"]

    def __str__(self) -> str:
        return f"Payment {self.pk} {self.amount}"
