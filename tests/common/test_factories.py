import datetime as dt

import pytest

from apps.common.partitions import ensure_month_partitions
from tests.accounts import factories as accounts
from tests.alerts.factories import OperationalEventFactory
from tests.audit.factories import audit_entry
from tests.customers import factories as customers
from tests.fleet import factories as fleet
from tests.jobs.factories import JobRunFactory
from tests.partners import factories as partners
from tests.pricing import factories as pricing
from tests.regions import factories as regions
from tests.risk import factories as risk
from tests.telematics import factories as telematics
from tests.transactions import factories as transactions

FACTORIES = [
    accounts.UserFactory,
    partners.PartnerFactory,
    partners.ApiTokenFactory,
    partners.WebhookEndpointFactory,
    partners.WebhookDeliveryFactory,
    partners.IdempotencyKeyFactory,
    regions.RegionFactory,
    regions.StoreFactory,
    regions.SalespersonFactory,
    regions.StoreDailyMetricsFactory,
    fleet.VehicleCategoryFactory,
    fleet.VehicleFactory,
    fleet.MaintenanceRecordFactory,
    fleet.MaintenanceForecastFactory,
    customers.CustomerFactory,
    customers.PaymentCardFactory,
    customers.TelematicsConsentFactory,
    transactions.RentalFactory,
    transactions.MerchantCategoryFactory,
    transactions.IngestRunFactory,
    transactions.RejectedRowFactory,
    telematics.DeviceFactory,
    telematics.TripFactory,
    telematics.DriverFeaturesFactory,
    risk.ClaimFactory,
    risk.RiskModelFactory,
    risk.RiskScoreFactory,
    pricing.RatePlanFactory,
    pricing.QuoteFactory,
    pricing.PolicyFactory,
    OperationalEventFactory,
    JobRunFactory,
]


@pytest.mark.django_db
@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_factory_builds_a_valid_row(factory):
    obj = factory()
    obj.full_clean(validate_unique=False)
    assert type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_payment_factory_writes_into_a_month_partition():
    ensure_month_partitions("transactions_payment", dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    payment = transactions.PaymentFactory()
    assert type(payment).objects.get(pk=payment.pk).amount == payment.amount


@pytest.mark.django_db
def test_audit_entries_chain():
    first = audit_entry()
    second = audit_entry(action="other")
    assert second.prev_hash == first.hash
