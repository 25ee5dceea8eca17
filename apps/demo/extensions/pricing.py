"""Demo world extension: two partner insurers with API tokens, and policies bound from quotes.

Runs after telematics and risk, so consenting drivers with scores get PHYD/PAYD prices and the
rest traditional ones. The raw API keys are printed once here and stored nowhere (only their
SHA-256 is kept); re-running creates new keys only for partners that do not exist yet."""

import random

from django.db.models import Exists, OuterRef

from apps.customers.models import Customer, TelematicsConsent
from apps.fleet.models import VehicleCategory
from apps.partners.models import Partner, Scope
from apps.partners.services import api_token_create
from apps.pricing.models import PolicyKind
from apps.pricing.services import QuoteRequest, policies_bind_bulk
from apps.regions.models import Region

PARTNERS = [
    # slug, name, requests per minute, share of the portfolio
    ("aurora", "Aurora Versicherung AG", 120_000, 0.40),
    ("nordlicht", "Nordlicht Insurance SE", 6_000, 0.20),
]
POLICIES = {"small": 300, "medium": 3_000}


def seed(*, size: str, rng: random.Random, stdout) -> None:
    categories = list(VehicleCategory.objects.order_by("code").values_list("pk", flat=True))
    regions = list(Region.objects.order_by("code").values_list("pk", flat=True))
    consent = TelematicsConsent.objects.filter(customer_id=OuterRef("pk"), withdrawn_at__isnull=True)
    drivers = list(
        Customer.objects.annotate(consents=Exists(consent))
        .order_by("pk")
        .values_list("pk", "consents", "home_store__region_id")
    )
    # Drivers with telematics first (the partners' interest), then others up to the portfolio size.
    drivers.sort(key=lambda d: (not d[1], d[0]))
    portfolio = drivers[: POLICIES.get(size, POLICIES["small"])]
    scopes = [Scope.DRIVERS_READ, Scope.QUOTES_WRITE, Scope.POLICIES_WRITE, Scope.JOBS_WRITE]
    for slug, name, rpm, share in PARTNERS:
        partner, created = Partner.objects.get_or_create(
            slug=slug, defaults={"name": name, "requests_per_minute": rpm, "contact_email": f"api@{slug}.example"}
        )
        if created:
            _token, raw_key = api_token_create(partner=partner, name="demo integration", scopes=scopes)
            stdout.write(f"  pricing: partner {name}: API key (shown once, not stored) {raw_key}")
        chosen = [d for d in portfolio if rng.random() < share]
        requests = []
        for driver_id, has_consent, home_region in chosen:
            if has_consent:
                kind = PolicyKind.PHYD if rng.random() < 0.7 else PolicyKind.PAYD
            else:
                kind = PolicyKind.TRADITIONAL
            requests.append(
                QuoteRequest(
                    driver_id=driver_id,
                    vehicle_category_id=rng.choice(categories),
                    region_id=home_region or rng.choice(regions),
                    kind=kind,
                    partner_id=partner.pk,
                    vehicle_age_years=rng.randint(0, 9),
                )
            )
        policies = policies_bind_bulk(partner=partner, requests=requests)
        kinds = {k: sum(1 for p in policies if p.kind == k) for k in PolicyKind.values}
        stdout.write(
            f"  pricing: {name}: {len(policies)} policies bound from quotes "
            f"({kinds['phyd']} PHYD, {kinds['payd']} PAYD, {kinds['traditional']} traditional)"
        )
