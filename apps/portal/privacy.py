"""What the privacy page tells a driver: the consent in force and its history, what FleetOps
collects about them, why and for how long, and what the export contains."""

from typing import Any

from django.conf import settings

from apps.customers.models import Customer, ErasureRequest, TelematicsConsent
from apps.portal.export import export_contents

# One row per kind of data: what, why, how long. Retention is the operator's policy: partitions
# of positions are detached and archived with `manage.py partitions detach --before`, the rest is
# kept for the insurance relationship; the page says so instead of promising an automatic purge.
COLLECTED = (
    (
        "Profile",
        "name, e-mail, phone, birth year, licence date, city and postal area",
        "to run your rentals and policies",
        "while you are a customer",
    ),
    (
        "Positions and motion",
        "GPS position, speed, acceleration, posted limit and phone use, once a second while driving with telematics on",
        "to score trips",
        "{samples}",
    ),
    (
        "Trips",
        "start, end, distance, duration, events and trip score",
        "to show your trips and compute your score",
        "while you are a customer, or until you ask to erase them",
    ),
    (
        "Safety scores",
        "score, band and the reasons behind it",
        "to price telematics insurance",
        "for the life of your policies and as insurance law requires afterwards",
    ),
    (
        "Quotes and policies",
        "premiums, their breakdown and changes",
        "to insure you",
        "for the life of your policies and as insurance law requires afterwards",
    ),
    (
        "Rentals and payments",
        "rentals, amounts, masked cards (never the full number or the CVV)",
        "to rent you vehicles and prevent fraud",
        "as accounting law requires",
    ),
)


def privacy_overview(*, driver: Customer) -> dict[str, Any]:
    consents = list(TelematicsConsent.objects.filter(customer=driver).order_by("-given_at")[:10])
    in_force = next((c for c in consents if c.withdrawn_at is None), None)
    months = settings.TELEMATICS.get("SAMPLE_RETENTION_MONTHS")
    samples = (
        f"{months} months, then archived off-line" if months else "until the operator archives the month they fall in"
    )
    return {
        "consent": in_force,
        "consents": consents,
        "collected": [
            (what, detail, why, how_long.format(samples=samples)) for what, detail, why, how_long in COLLECTED
        ],
        "export_files": export_contents(),
        "erasure_pending": ErasureRequest.objects.filter(customer=driver, status=ErasureRequest.Status.PENDING).first(),
        "erasures": list(ErasureRequest.objects.filter(customer=driver)[:5]),
    }
