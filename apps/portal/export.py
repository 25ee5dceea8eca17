"""A driver's own data as one zip (GDPR Articles 15 and 20): JSON for the profile, CSV for the
rest, every row scoped to the signed-in driver. Streamed through a spooled file so a driver with
a year of 1 Hz samples does not sit in memory."""

import csv
import io
import json
import tempfile
import zipfile

from django.db.models import QuerySet
from django.utils import timezone

from apps.customers.models import Customer, ErasureRequest, Notification, PaymentCard, TelematicsConsent
from apps.pricing.models import Policy, PremiumChange, Quote
from apps.risk.models import Claim, RiskScore
from apps.telematics.models import Badge, TelematicsSample, Trip
from apps.transactions.models import Payment, Rental

# What the export holds, file by file: every column of the driver's own rows, less the few named
# here with the reason. The privacy page lists these files, so what a driver is told and what
# they get cannot drift apart.
PROFILE_EXCLUDED = {"user_id": "the login is not data about the driver"}
TABLES = (
    ("consents.csv", lambda c: TelematicsConsent.objects.filter(customer=c), {}),
    (
        "cards.csv",
        lambda c: PaymentCard.objects.filter(customer=c),
        {"number_hmac": "a keyed fingerprint, not the number; useless outside FleetOps"},
    ),
    ("rentals.csv", lambda c: Rental.objects.filter(customer=c), {}),
    (
        "payments.csv",
        lambda c: Payment.objects.filter(customer=c),
        {
            "is_fraud": "fraud-prevention assessment",
            "fraud_score": "fraud-prevention assessment",
            "ingest_run_id": "internal bookkeeping",
        },
    ),
    ("trips.csv", lambda c: Trip.objects.filter(driver=c), {}),
    ("scores.csv", lambda c: RiskScore.objects.filter(driver=c), {}),
    ("quotes.csv", lambda c: Quote.objects.filter(driver=c), {}),
    ("policies.csv", lambda c: Policy.objects.filter(driver=c), {}),
    ("premium_changes.csv", lambda c: PremiumChange.objects.filter(driver=c), {}),
    ("claims.csv", lambda c: Claim.objects.filter(driver=c), {}),
    ("badges.csv", lambda c: Badge.objects.filter(driver=c), {}),
    ("notifications.csv", lambda c: Notification.objects.filter(customer=c), {}),
    ("erasure_requests.csv", lambda c: ErasureRequest.objects.filter(customer=c), {"handled_by_id": "staff account"}),
)


def _columns(model, excluded: dict[str, str]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname not in excluded]


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return "" if value is None else value


def _write_csv(archive: zipfile.ZipFile, name: str, rows: QuerySet, fields: list[str]) -> int:
    count = 0
    with archive.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(fields)
        for row in rows.values_list(*fields).order_by(*fields[:2]).iterator(chunk_size=2000):
            writer.writerow([_cell(v) for v in row])
            count += 1
    return count


def export_contents() -> list[str]:
    """File names in the export, for the privacy page."""
    return ["profile.json", *[name for name, _, _ in TABLES], "samples.csv", "README.txt"]


def driver_export(*, customer: Customer) -> tempfile.SpooledTemporaryFile:
    """The zip, positioned at its start, ready to stream."""
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned open, the response closes it
    counts = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        profile = {f: _cell(getattr(customer, f)) for f in _columns(Customer, PROFILE_EXCLUDED)}
        archive.writestr("profile.json", json.dumps(profile, default=str, indent=2, ensure_ascii=False))
        for name, rows, excluded in TABLES:
            queryset = rows(customer)
            counts[name] = _write_csv(archive, name, queryset, _columns(queryset.model, excluded))
        samples = TelematicsSample.objects.filter(trip__driver=customer)
        counts["samples.csv"] = _write_csv(archive, "samples.csv", samples, _columns(TelematicsSample, {}))
        archive.writestr(
            "README.txt",
            f"Your FleetOps data, exported {timezone.now():%Y-%m-%d %H:%M %Z}.\n"
            "Times are UTC (ISO 8601), distances km, speeds m/s, money EUR.\n\n"
            + "\n".join(f"{name}: {n:,} rows" for name, n in counts.items())
            + "\n",
        )
    out.seek(0)
    return out
