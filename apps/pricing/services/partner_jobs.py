"""Jobs that partners start through the API, and which partner owns which run."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.accounts.models import Partner
from apps.pricing.models import PartnerJob


@transaction.atomic
def partner_job_start(*, partner: Partner, kind: str, parameters: dict[str, Any]) -> PartnerJob:
    """Queues a job for a partner and remembers that the partner owns it (GET /jobs/{id}/)."""
    from apps.jobs.services import job_start

    run = job_start(kind=kind, parameters=parameters, trigger="api")
    return PartnerJob.objects.create(partner=partner, job=run)
