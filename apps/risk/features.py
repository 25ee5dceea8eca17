"""The driving features a risk model may use, how they read in plain words, and the guard that
keeps protected attributes out of every model."""

from dataclasses import dataclass

from apps.common.exceptions import ApplicationError
from apps.risk.fairness import FORBIDDEN_ATTRIBUTES, forbidden_among, model_attributes


@dataclass(frozen=True)
class Feature:
    name: str  # column of telematics.DriverFeatures
    label: str  # plain words for reasons
    unit: str
    monotone: int = 0  # +1: a higher value never lowers the predicted frequency
    scale: float = 1.0  # shown value = stored value * scale
    decimals: int = 1
    may_be_missing: bool = False  # NULL when none of the driver's trips could measure it
    # features measuring one habit: the data may support their effect together where each alone,
    # sharing it, falls within the noise (apps/risk/reasons.py)
    group: str = ""


HARSH = "harsh driving"  # the three harsh-event rates measure one habit
FEATURES: tuple[Feature, ...] = (
    Feature("km", "distance driven", "km in the window", decimals=0),
    Feature(
        "harsh_brake_per_100km", "harsh braking", "per 100 km", monotone=1, may_be_missing=True, group=HARSH
    ),
    Feature(
        "harsh_accel_per_100km", "harsh acceleration", "per 100 km", monotone=1, may_be_missing=True, group=HARSH
    ),
    Feature(
        "harsh_corner_per_100km", "harsh cornering", "per 100 km", monotone=1, may_be_missing=True, group=HARSH
    ),
    Feature("speeding_share", "speeding", "% of driving time", monotone=1, scale=100),
    Feature("night_share", "night driving", "% of driving time", monotone=1, scale=100, decimals=0),
    Feature("rush_hour_share", "rush-hour driving", "% of driving time", scale=100, decimals=0),
    Feature("highway_share", "highway driving", "% of driving time", scale=100, decimals=0),
    Feature("phone_use_per_hour", "phone use", "s per hour of driving", monotone=1, decimals=0),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BY_NAME = {f.name: f for f in FEATURES}
GROUPS: dict[str, list[str]] = {}
for _feature in FEATURES:
    if _feature.group:
        GROUPS.setdefault(_feature.group, []).append(_feature.name)

# Names that must never be a feature: the fairness policy's forbidden attributes. Every field of
# customers.Customer is added at check time (none of them is about how someone drives).
PROTECTED_NAMES = FORBIDDEN_ATTRIBUTES


def customer_field_names() -> set[str]:
    from apps.customers.models import Customer

    names = set()
    for field in Customer._meta.get_fields():
        names.add(field.name)
        if getattr(field, "attname", None):
            names.add(field.attname)
    return names


def feature_names_check(names: list[str] | tuple[str, ...]) -> None:
    """Refuses a feature list holding a protected attribute, a customer field or anything that is
    not one of the known driving features."""
    customer = customer_field_names()
    protected = sorted(set(forbidden_among(names)) | {n for n in names if n.lower() in customer})
    if protected:
        raise ApplicationError(
            f"protected or non-driving attribute(s) cannot be risk features: {', '.join(protected)}",
            code="protected_feature",
        )
    unknown = sorted(set(names) - (set(FEATURE_NAMES) & set(model_attributes())))
    if unknown:
        raise ApplicationError(f"unknown risk feature(s): {', '.join(unknown)}", code="unknown_feature")
    if not names:
        raise ApplicationError("a risk model needs at least one feature", code="no_features")
