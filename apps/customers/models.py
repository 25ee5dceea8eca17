from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.common.models import TimeStampedModel


class Customer(TimeStampedModel):
    """A rental customer and, with telematics, an insured driver.

    Masking policy (see docs/payments.md): no street address or exact birth date is kept; the payments
    pipeline reduces them to city / postal area and birth year."""

    class Gender(models.TextChoices):
        FEMALE = "female"
        MALE = "male"
        OTHER = "other"
        UNKNOWN = "unknown"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="customer"
    )
    external_id = models.BigIntegerField(
        unique=True, null=True, blank=True, help_text="Client id in the card processor's files."
    )
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True)
    # Protected attribute: stored for servicing only, never a pricing or risk feature.
    gender = models.CharField(max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    licence_since = models.DateField(null=True, blank=True, help_text="Driving licence held since.")
    city = models.CharField(max_length=100, blank=True)
    postal_area = models.CharField(max_length=10, blank=True, help_text="First digits of the postal code only.")
    latitude = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    longitude = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    home_store = models.ForeignKey(
        "regions.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="customers"
    )
    yearly_income = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    total_debt = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credit_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # The driver's own choices in the portal; both off until the driver turns them on.
    leaderboard_opt_in = models.BooleanField(
        default=False, db_default=False, help_text="Shown, without a name, on the region's leaderboard."
    )
    notify_by_email = models.BooleanField(
        default=False, db_default=False, help_text="Also e-mail the portal's notifications."
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="customers_name_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_score__isnull=True) | Q(credit_score__gte=300, credit_score__lte=850),
                name="%(app_label)s_%(class)s_credit_score_range",
            ),
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1900, birth_year__lte=2100),
                name="%(app_label)s_%(class)s_birth_year_range",
            ),
            models.CheckConstraint(
                condition=Q(yearly_income__isnull=True) | Q(yearly_income__gte=0),
                name="%(app_label)s_%(class)s_income_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_debt__isnull=True) | Q(total_debt__gte=0),
                name="%(app_label)s_%(class)s_debt_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(gender__in=["female", "male", "other", "unknown"]),
                name="%(app_label)s_%(class)s_gender_valid",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Customer {self.external_id or self.pk}"


class PaymentCard(TimeStampedModel):
    """A customer's card, masked: brand, type, last four digits, expiry and a keyed HMAC of the
    number (to match the same card again). Never the full number, never the CVV."""

    class Brand(models.TextChoices):
        VISA = "visa"
        MASTERCARD = "mastercard"
        AMEX = "amex"
        DISCOVER = "discover"
        OTHER = "other"

    class CardType(models.TextChoices):
        CREDIT = "credit"
        DEBIT = "debit"
        PREPAID = "prepaid"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cards")
    external_id = models.BigIntegerField(unique=True, null=True, blank=True)
    brand = models.CharField(max_length=12, choices=Brand.choices)
    card_type = models.CharField(max_length=10, choices=CardType.choices)
    last4 = models.CharField(max_length=4)
    expires_on = models.DateField(help_text="Last day the card is valid (end of the expiry month).")
    number_hmac = models.CharField(max_length=64, db_index=True)
    has_chip = models.BooleanField(default=True)
    cards_issued = models.PositiveSmallIntegerField(default=1)
    credit_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    opened_on = models.DateField(null=True, blank=True)
    pin_changed_year = models.PositiveSmallIntegerField(null=True, blank=True)
    on_dark_web = models.BooleanField(default=False)

    class Meta:
        ordering = ["customer", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last4__regex=r"^[0-9]{4}$"), name="%(app_label)s_%(class)s_last4_digits"
            ),
            models.CheckConstraint(
                condition=Q(number_hmac__regex=r"^[0-9a-f]{64}$"), name="%(app_label)s_%(class)s_hmac_hex"
            ),
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                name="%(app_label)s_%(class)s_credit_limit_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(brand__in=["visa", "mastercard", "amex", "discover", "other"]),
                name="%(app_label)s_%(class)s_brand_valid",
            ),
            models.CheckConstraint(
                condition=Q(card_type__in=["credit", "debit", "prepaid"]), name="%(app_label)s_%(class)s_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_brand_display()} •••• {self.last4}"


class TelematicsConsent(models.Model):
    """One row per consent given; withdrawing stamps `withdrawn_at`. At most one row per
    customer is in force (not withdrawn), so consent history is kept."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="telematics_consents")
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    terms_version = models.CharField(max_length=20, default="2026-01")
    source = models.CharField(max_length=20, default="portal")

    class Meta:
        ordering = ["-given_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(withdrawn_at__isnull=True),
                name="%(app_label)s_%(class)s_one_in_force",
                violation_error_message="This customer already has a consent in force.",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=models.F("given_at")),
                name="%(app_label)s_%(class)s_withdrawn_after_given",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent {self.customer_id} ({'in force' if self.in_force else 'withdrawn'})"

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


class ErasureRequest(models.Model):
    """A driver's request that their trips be erased (GDPR Article 17), recorded for the back
    office, which decides and carries it out; the request and its outcome are kept."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        REFUSED = "refused"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="erasure_requests")
    requested_at = models.DateTimeField(default=timezone.now)
    scope = models.CharField(max_length=20, default="trips", help_text="What the driver asked to erase.")
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="pending"),
                name="%(app_label)s_%(class)s_one_pending",
                violation_error_message="This driver already has an erasure request waiting.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "done", "refused"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(handled_at__isnull=False),
                name="%(app_label)s_%(class)s_handled_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Erasure request {self.pk} ({self.status})"


class Notification(models.Model):
    """A message to a driver in the portal (a trip scored, a badge earned, the score or the premium
    changed); e-mailed too when the driver opted in."""

    class Kind(models.TextChoices):
        TRIP_SCORED = "trip_scored"
        BADGE = "badge"
        SCORE_CHANGED = "score_changed"
        PREMIUM_CHANGED = "premium_changed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=120)
    body = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=200, blank=True, help_text="A portal path to open.")
    # One notification per event: a retried task must not notify twice.
    dedupe_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="customers_notif_recent_idx")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "dedupe_key"], name="%(app_label)s_%(class)s_once_per_event"),
        ]

    def __str__(self) -> str:
        return self.title
