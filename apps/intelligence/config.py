"""Thresholds of the intelligence jobs: each module declares its defaults, settings.INTELLIGENCE
(from the FLEETOPS_INTELLIGENCE JSON environment variable) overrides them per section."""

from typing import Any

from django.conf import settings

from apps.common.exceptions import ApplicationError


def intelligence_config(section: str, defaults: dict[str, Any]) -> dict[str, Any]:
    overrides = (getattr(settings, "INTELLIGENCE", None) or {}).get(section) or {}
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise ApplicationError(
            f"INTELLIGENCE[{section!r}] has unknown key(s): {', '.join(sorted(unknown))}", code="bad_config"
        )
    return {**defaults, **overrides}
