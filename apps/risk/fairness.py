"""The fairness policy in code (docs/fairness.md gives the reasons): which attributes may enter
the risk model and the price, and which never may. This one list is read by training and
activation (`features.feature_names_check`), the benchmark (`risk_benchmark`) and pricing (the
customer fields a quote may read, `price_inputs_check`)."""

from dataclasses import dataclass

from apps.common.exceptions import ApplicationError


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str  # driving behaviour, mileage, vehicle, region, driving experience
    model: bool  # may be a feature of the risk model
    price: bool  # may be a rating factor of the price


ALLOWED_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("km", "mileage", model=True, price=True),
    Attribute("harsh_brake_per_100km", "driving behaviour", model=True, price=True),
    Attribute("harsh_accel_per_100km", "driving behaviour", model=True, price=True),
    Attribute("harsh_corner_per_100km", "driving behaviour", model=True, price=True),
    Attribute("speeding_share", "driving behaviour", model=True, price=True),
    Attribute("night_share", "driving behaviour", model=True, price=True),
    Attribute("rush_hour_share", "driving behaviour", model=True, price=True),
    Attribute("highway_share", "driving behaviour", model=True, price=True),
    Attribute("phone_use_per_hour", "driving behaviour", model=True, price=True),
    Attribute("vehicle_category", "vehicle", model=False, price=True),
    Attribute("vehicle_age", "vehicle", model=False, price=True),
    Attribute("region", "region", model=False, price=True),
    # Years since the licence was obtained: priced (the experience factor), never a model feature:
    # the safety score shown to drivers is about how they drive, nothing else.
    Attribute("licence_since", "driving experience", model=False, price=True),
)
ALLOWED_BY_NAME = {a.name: a for a in ALLOWED_ATTRIBUTES}

# Never a feature, a rating factor, or a benchmark feature (without an explicit, printed override):
# protected attributes and their proxies. Compared case-insensitively, ignoring "_" and "-".
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "gender",
        "sex",
        "age",
        "age_band",
        "driver_age",
        "drivage",
        "birth_year",
        "birth_date",
        "date_of_birth",
        "year_of_birth",
        "nationality",
        "citizenship",
        "ethnicity",
        "race",
        "religion",
        "marital_status",
        "postal_area",
        "postcode",
        "postal_code",
        "zip",
        "zip_code",
        "city",
        "yearly_income",
        "total_debt",
        "credit_score",
    }
)


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_FORBIDDEN_KEYS = {_key(n) for n in FORBIDDEN_ATTRIBUTES}


def forbidden_among(names) -> list[str]:
    """The names (as given) that the policy forbids."""
    return sorted(n for n in names if _key(n) in _FORBIDDEN_KEYS)


def model_attributes() -> tuple[str, ...]:
    return tuple(a.name for a in ALLOWED_ATTRIBUTES if a.model)


def price_inputs_check(names) -> None:
    """Refuses a pricing input the policy does not allow for the price."""
    not_allowed = {n for n in names if n not in ALLOWED_BY_NAME or not ALLOWED_BY_NAME[n].price}
    refused = sorted(set(forbidden_among(names)) | not_allowed)
    if refused:
        raise ApplicationError(
            f"attribute(s) the fairness policy does not allow in a price: {', '.join(refused)}",
            code="protected_feature",
        )


# Monitoring only (the fairness report in the model card): never read by a model or a price.
MONITORED_GROUPS = ("gender", "age_band")
AGE_BANDS = ((0, 25, "under 25"), (25, 35, "25-34"), (35, 50, "35-49"), (50, 65, "50-64"), (65, 200, "65+"))
