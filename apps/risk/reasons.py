"""What a score's explanations may say, read by scoring (the reasons), the portal (advice and
what each habit costs) and the partner API, without loading the modelling stack.

The rule, in one sentence: a feature is named as a reason (or priced as a habit in the advice)
only if taking its term out of the model (or the terms of its group, features that measure one
habit, such as the three harsh-event rates) makes the deviance on the held-out drivers worse by
more than SUPPORT_Z standard errors, and then only for a driver on whom its effect is at least
MATERIAL_EFFECT of expected claims (`apps.risk.modeling.support` measures the first part at
training and keeps the supported features in the model card)."""

# One-sided, about 2.3% of a no-effect feature passing by chance.
SUPPORT_Z = 2.0
# An effect smaller than this on a driver's expected claims is not worth a sentence.
MATERIAL_EFFECT = 0.05
RULE = (
    f"a feature is named only if removing its term (or its group's: features measuring one habit) worsens the"
    f" held-out drivers' deviance by more than {SUPPORT_Z:g} standard errors, and only where it moves the"
    f" driver's expected claims by {MATERIAL_EFFECT:.0%} or more"
)


def reason_features(model_card: dict | None) -> set[str] | None:
    """The features a model's explanations may name (its card's `reason_features`), or None for a
    model trained before the rule (every feature)."""
    names = (model_card or {}).get("reason_features")
    return None if names is None else set(names)


def is_material(effect: float) -> bool:
    """Whether an effect (exp(contribution) - 1) is worth a sentence."""
    return abs(effect) >= MATERIAL_EFFECT - 1e-9


def may_name(name: str, supported: set[str] | None) -> bool:
    return supported is None or name in supported
