"""A small world for the ops pages' tests: two regions' stores with 40 days of KPIs, vehicles
with forecasts and rentals, live alerts, a demand forecast, an active risk model with scores, and
(with payments=True, in transactional tests) card payments in the enriched view."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from apps.jobs.models import JobRun
from tests.alerts.factories import OperationalEventFactory
from tests.fleet.factories import MaintenanceForecastFactory, MaintenanceRecordFactory, VehicleFactory
from tests.jobs.factories import JobRunFactory
from tests.regions.factories import RegionFactory, StoreDailyMetricsFactory, StoreFactory
from tests.risk.factories import RiskModelFactory, RiskScoreFactory
from tests.transactions.factories import RentalFactory

CALIBRATION = [
    {"decile": d, "rows": 5, "observed_frequency": 0.05 * d, "predicted_frequency": 0.048 * d} for d in range(1, 11)
]


def build_world(*, payments: bool = False) -> dict:
    today = timezone.localdate()
    stores = []
    for code, region in (("B-01", "Berlin"), ("M-01", "Bavaria")):
        store = StoreFactory(
            code=code, name=f"Store {code}", region=RegionFactory(name=region, code=region[:2].upper())
        )
        stores.append(store)
        for n in range(1, 41):
            StoreDailyMetricsFactory(
                store=store,
                date=today - dt.timedelta(days=n),
                revenue=Decimal(1000 + 10 * n),
                rentals=5 + n % 4,
                active_rentals=6 + n % 5,
                fleet_size=12,
                utilisation=Decimal("0.5"),
            )
    vehicles = []
    for n, urgency in enumerate(("overdue", "due_soon", "ok")):
        vehicle = VehicleFactory(plate=f"B-OP {n + 1}", home_store=stores[0], price_per_day=Decimal("60"))
        vehicles.append(vehicle)
        MaintenanceForecastFactory(vehicle=vehicle, as_of=today, urgency=urgency, reason=f"because {urgency}")
        MaintenanceRecordFactory(vehicle=vehicle)
        start = timezone.now() - dt.timedelta(days=10 + n)
        rental = RentalFactory(
            vehicle=vehicle,
            pickup_store=stores[0],
            rented_at=start,
            due_at=start + dt.timedelta(days=2),
            returned_at=start + dt.timedelta(days=2),
            rental_amount=Decimal("120"),
        )
    alerts = [
        OperationalEventFactory(
            title="Service overdue B-OP 1",
            severity="critical",
            event_type="maintenance",
            entity_type="fleet.vehicle",
            entity_id=str(vehicles[0].pk),
        ),
        OperationalEventFactory(
            title="Odd rentals",
            severity="high",
            event_type="fraud_risk",
            score=71.5,
            entity_type="customers.customer",
            entity_id=str(rental.customer_id),
            description="- three one-day rentals in a week\n- returned at another store",
        ),
    ]
    JobRunFactory(
        kind="intelligence.demand_forecast",
        status=JobRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        result={
            "model": "Holt-Winters",
            "backtest": {
                "overall": {
                    "weeks": 8,
                    "store_days": 112,
                    "model": {"mape": 30.0, "wape": 25.0, "bias": 4.0},
                    "naive": {"mape": 40.0, "wape": 35.0, "bias": 1.0},
                },
                "stores": {str(s.pk): {"model": {"mape": 30.0, "wape": 25.0}, "naive": {"mape": 40.0}} for s in stores},
            },
            "forecasts": {
                str(s.pk): {
                    "days": [(today + dt.timedelta(days=d)).isoformat() for d in range(7)],
                    "rentals": [2.0] * 7,
                    "expected_on_rent": [9.0 + d + 5 * i for d in range(7)],
                    "fleet": 12,
                    "mean_rental_days": 3.0,
                }
                for i, s in enumerate(stores)
            },
        },
    )
    model = RiskModelFactory(
        is_active=True,
        activated_at=timezone.now(),
        metrics={
            "xgboost": {"mean_poisson_deviance": 0.5, "d2": 0.2, "normalised_gini": 0.4, "calibration": CALIBRATION},
            "glm": {"mean_poisson_deviance": 0.55, "d2": 0.12, "normalised_gini": 0.3, "calibration": CALIBRATION},
        },
    )
    for n in range(5):
        RiskScoreFactory(
            model=model, as_of=today, safety_score=50 + 10 * n, contributions={"km": 0.1 * n, "night_share": -0.05}
        )
    world = {"stores": stores, "vehicles": vehicles, "alerts": alerts, "model": model}
    if payments:
        world["payments"] = _payments()
    return world


def _payments() -> int:
    from apps.common.partitions import ensure_month_partitions
    from apps.ops.selectors.payments import payments_dashboards_precompute
    from apps.transactions.models import Payment
    from tests.customers.factories import PaymentCardFactory
    from tests.transactions.factories import MerchantCategoryFactory, PaymentFactory

    now = timezone.now()
    ensure_month_partitions("transactions_payment", (now - dt.timedelta(days=70)).date(), now.date())
    card = PaymentCardFactory()
    categories = [
        MerchantCategoryFactory(code=c, description=d) for c, d in (("5411", "Grocery"), ("5732", "Electronics"))
    ]
    rows = [
        PaymentFactory.build(
            card=card,
            customer=card.customer,
            paid_at=now - dt.timedelta(days=n % 60, hours=n % 24),
            mcc=categories[n % 2],
            amount=Decimal("40.00") + n,
            is_fraud=(n % 25 == 0) if n % 3 else None,
            method=("chip", "swipe", "online")[n % 3],
            merchant_state="" if n % 3 == 2 else "TX",
            errors=["Bad PIN"] if n % 10 == 0 else [],
        )
        for n in range(300)
    ]
    Payment.objects.bulk_create(rows)
    payments_dashboards_precompute()  # as an ingest's hook does after loading payments
    return len(rows)
