"""Rating from plain values: no database (no django_db mark, so any query would fail the test)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from apps.common.exceptions import ApplicationError
from apps.pricing.models import RatePlan
from apps.pricing.services import rating

TARIFF = rating.Tariff(
    label="standard v1",
    base_premiums={"*": {"*": "600.00"}, "SUV": {"*": "800.00", "BY": "900.00"}},
    experience_factors=[
        {"min_years": 0, "factor": "1.60"},
        {"min_years": 3, "factor": "1.20"},
        {"min_years": 10, "factor": "1.00"},
    ],
    vehicle_age_factors=[{"min_years": 0, "factor": "1.00"}, {"min_years": 5, "factor": "1.10"}],
    per_km_rate=Decimal("0.0300"),
    minimum_premium=Decimal("150.00"),
    max_discount=Decimal("0.450"),
    max_surcharge=Decimal("0.400"),
    eligibility_min_trips=20,
    eligibility_min_km=500,
    risk_elasticity=Decimal("0.500"),
    payd_fixed_share=Decimal("0.600"),
    daily_loading=Decimal("1.300"),
)


def inputs(**overrides):
    """An eligible PHYD driver: SUV in BY, 16 years licensed, a new vehicle, 40 trips / 3000 km in 90 days."""
    values = {
        "kind": "phyd",
        "vehicle_category": "SUV",
        "region": "BY",
        "licence_years": 16,
        "vehicle_age_years": 0,
        "telematics_consent": True,
        "window_days": 90,
        "trips_in_window": 40,
        "km_in_window": 3000.0,
        "risk_score": {"relative_risk": 0.64, "safety_score": 82},
    }
    return values | overrides


def step(prices, name):
    return next(s for s in prices["breakdown"] if s["step"] == name)


def test_phyd_applies_the_curve_to_the_traditional_premium():
    prices = rating.quote_compute(inputs=inputs(), tariff=TARIFF)
    assert prices["traditional_premium"] == Decimal("900.00")
    assert prices["telematics_factor"] == Decimal("0.8000")  # 0.64 ** 0.5
    assert prices["telematics_premium"] == Decimal("720.00")
    assert prices["discount"] == Decimal("180.00")
    assert prices["annual_premium"] == Decimal("720.00")
    assert prices["daily_price"] == Decimal("2.56")  # 720 / 365 * 1.3
    assert prices["per_km_rate"] == Decimal("0") and prices["payd_part"] == Decimal("0")
    assert prices["eligible"] is True
    assert [s["step"] for s in prices["breakdown"]] == [
        "base_premium",
        "experience_factor",
        "vehicle_age_factor",
        "traditional_premium",
        "eligibility",
        "telematics_factor",
        "telematics_premium",
        "annual_premium",
        "daily_price",
    ]
    assert step(prices, "base_premium")["label"] == "Base annual premium (SUV/BY)"
    assert step(prices, "eligibility")["label"] == "Telematics pricing applies"
    assert step(prices, "telematics_factor")["label"] == "Relative risk 0.64 ^ 0.500 = 0.8000 (bounds 0.5500..1.4000)"
    assert step(prices, "annual_premium")["label"] == "Annual premium; discount 180.00"


@pytest.mark.parametrize(
    ("category", "region", "amount", "key"),
    [("SUV", "BY", "900.00", "SUV/BY"), ("SUV", "BE", "800.00", "SUV/*"), ("VAN", "BY", "600.00", "*/*")],
)
def test_the_base_premium_falls_back_to_the_star_keys(category, region, amount, key):
    assert rating.base_premium(TARIFF, category, region) == (Decimal(amount), key)


def test_a_plan_without_a_matching_base_premium_is_refused():
    tariff = dataclasses.replace(TARIFF, base_premiums={"SUV": {"BY": "900"}})
    with pytest.raises(ApplicationError, match=r"Rate plan standard v1 has no base premium for category 'VAN'"):
        rating.quote_compute(inputs=inputs(vehicle_category="VAN"), tariff=tariff)


@pytest.mark.parametrize(
    ("years", "factor", "band"), [(0, "1.60", 0), (2, "1.60", 0), (3, "1.20", 3), (9, "1.20", 3), (40, "1.00", 10)]
)
def test_the_experience_factor_is_the_highest_band_reached(years, factor, band):
    assert rating.step_factor(TARIFF.experience_factors, years) == (Decimal(factor), band)


def test_the_traditional_premium_multiplies_the_factors_and_keeps_the_minimum():
    prices = rating.quote_compute(
        inputs=inputs(kind="traditional", licence_years=1, vehicle_age_years=6), tariff=TARIFF
    )
    assert prices["traditional_premium"] == Decimal("1584.00")  # 900 x 1.60 x 1.10
    cheap = dataclasses.replace(TARIFF, base_premiums={"*": {"*": "80.00"}})
    prices = rating.quote_compute(inputs=inputs(kind="traditional"), tariff=cheap)
    assert prices["traditional_premium"] == Decimal("150.00")
    assert step(prices, "traditional_premium")["label"] == (
        "Base x experience x vehicle age, raised to the minimum premium 150.00"
    )


def test_a_traditional_policy_is_the_traditional_premium_alone():
    prices = rating.quote_compute(inputs=inputs(kind="traditional"), tariff=TARIFF)
    assert prices["eligible"] is False
    assert prices["annual_premium"] == prices["telematics_premium"] == Decimal("900.00")
    assert prices["telematics_factor"] == Decimal("1") and prices["discount"] == Decimal("0")
    assert step(prices, "eligibility")["label"] == "Traditional policy"


def test_an_ineligible_driver_pays_the_traditional_premium_and_is_told_why():
    prices = rating.quote_compute(
        inputs=inputs(telematics_consent=False, trips_in_window=3, km_in_window=120.5, risk_score=None), tariff=TARIFF
    )
    assert prices["eligible"] is False
    assert prices["annual_premium"] == Decimal("900.00")
    assert step(prices, "eligibility")["label"] == (
        "Traditional premium only: no telematics consent in force; 3 trips in 90 days (at least 20 needed);"
        " 120.5 km in 90 days (at least 500 needed); no score from the active risk model"
    )
    assert "telematics_factor" not in [s["step"] for s in prices["breakdown"]]


def test_payd_needs_no_score():
    assert rating.eligibility_gaps(inputs=inputs(kind="payd", risk_score=None), tariff=TARIFF) == []


def test_payd_is_a_fixed_share_plus_the_annualised_kilometres():
    prices = rating.quote_compute(inputs=inputs(kind="payd"), tariff=TARIFF)
    # 3000 km in 90 days -> 12166.67 km a year x 0.03 = 365.00; fixed 0.6 x 900 = 540.00
    assert prices["payd_part"] == Decimal("365.00")
    assert prices["per_km_rate"] == Decimal("0.0300")
    assert prices["telematics_premium"] == Decimal("905.00")
    assert prices["telematics_factor"] == Decimal("1.0056")
    assert prices["discount"] == Decimal("-5.00")
    assert step(prices, "annual_premium")["label"] == "Annual premium; surcharge 5.00"
    assert "bounds" not in [s["step"] for s in prices["breakdown"]]


def test_payd_is_clamped_to_the_plan_bounds():
    prices = rating.quote_compute(inputs=inputs(kind="payd", km_in_window=30000.0), tariff=TARIFF)
    assert prices["telematics_premium"] == Decimal("1260.00")  # 900 x 1.40
    assert prices["telematics_factor"] == Decimal("1.4000")
    assert step(prices, "bounds")["label"] == "Clamped from 4190.00 to the bounds 495.00..1260.00"


def test_the_annual_premium_is_never_below_the_minimum():
    small = dataclasses.replace(TARIFF, base_premiums={"*": {"*": "200.00"}})
    prices = rating.quote_compute(inputs=inputs(risk_score={"relative_risk": 0.01}), tariff=small)
    assert prices["telematics_premium"] == Decimal("110.00")  # 200 x 0.55, the largest discount
    assert prices["annual_premium"] == Decimal("150.00")
    assert (
        step(prices, "annual_premium")["label"]
        == "Annual premium (raised to the minimum premium 150.00); discount 90.00"
    )


@pytest.mark.parametrize(
    ("relative_risk", "factor"),
    [(0.01, "0.5500"), (0.3025, "0.5500"), (0.49, "0.7000"), (1.0, "1.0000"), (1.44, "1.2000"), (9.0, "1.4000")],
)
def test_the_curve_is_clamped_to_the_plan_bounds(relative_risk, factor):
    _, clamped = rating.telematics_factor_curve(
        relative_risk=relative_risk,
        elasticity=Decimal("0.5"),
        max_discount=Decimal("0.45"),
        max_surcharge=Decimal("0.40"),
    )
    assert clamped == Decimal(factor)


def test_the_curve_is_monotone():
    risks = [i / 50 for i in range(500)]
    factors = [
        rating.telematics_factor_curve(
            relative_risk=r, elasticity=Decimal("0.5"), max_discount=Decimal("0.45"), max_surcharge=Decimal("0.40")
        )[1]
        for r in risks
    ]
    assert factors == sorted(factors)
    assert min(factors) == Decimal("0.5500") and max(factors) == Decimal("1.4000")


@pytest.mark.parametrize(
    ("start", "years"),
    [
        (None, 0),
        (dt.date(2030, 1, 1), 0),
        (dt.date(2010, 6, 2), 15),
        (dt.date(2010, 6, 1), 16),
        (dt.date(2008, 2, 29), 18),
    ],
)
def test_licence_years_are_whole_years(start, years):
    assert rating.years_between(start, dt.date(2026, 6, 1)) == years


def test_the_tariff_of_a_rate_plan_is_its_numbers():
    plan = RatePlan(name="standard", version=3, base_premiums={"*": {"*": "500"}}, experience_factors=[])
    tariff = rating.Tariff.of(plan)
    assert tariff.label == "standard v3"
    assert tariff.base_premiums == {"*": {"*": "500"}}
    assert tariff.daily_loading == Decimal("1.300") and tariff.eligibility_min_trips == 20
