"""Pricing's writes and rules, one concern a module:

- `rate_plans`: the version in force, new versions, the checks of a plan's tables;
- `rating`: the premium and its breakdown from plain values (pure: no database);
- `quotes`: quote inputs loaded in bulk, quotes created or reused;
- `policies`: binding, cancelling and requoting policies;
- `follow_ups`: what a rescoring sets off (score cache, webhooks, requotes);
- `partner_jobs`: jobs a partner starts through the API.

The names callers use are re-exported here.
"""

from apps.pricing.services.follow_ups import REQUOTE_CHUNK, driver_scores_changed
from apps.pricing.services.partner_jobs import partner_job_start
from apps.pricing.services.policies import (
    policies_bind_bulk,
    policies_requote,
    policy_bind,
    policy_cancel,
    policy_ends_on,
    policy_quote_and_bind,
)
from apps.pricing.services.quotes import QuoteRequest, quote_create, quote_inputs_hash, quotes_for
from apps.pricing.services.rate_plans import (
    DEFAULT_PLAN,
    rate_plan_in_force,
    rate_plan_new_version,
    rate_plan_validate,
)
from apps.pricing.services.rating import Tariff, quote_compute, telematics_factor_curve

__all__ = [
    "DEFAULT_PLAN",
    "REQUOTE_CHUNK",
    "QuoteRequest",
    "Tariff",
    "driver_scores_changed",
    "partner_job_start",
    "policies_bind_bulk",
    "policies_requote",
    "policy_bind",
    "policy_cancel",
    "policy_ends_on",
    "policy_quote_and_bind",
    "quote_compute",
    "quote_create",
    "quote_inputs_hash",
    "quotes_for",
    "rate_plan_in_force",
    "rate_plan_new_version",
    "rate_plan_validate",
    "telematics_factor_curve",
]
