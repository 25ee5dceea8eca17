"""Jobs that partners start through the API, and which partner owns which run."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model

from apps.jobs.services import job_start
from apps.pricing.models import PartnerJob

# A `partner` argument is a partners.Partner: pricing refers to it by foreign key only (partners
# sits above pricing in the layers and pricing never imports it), so it is typed as a Model here.


@transaction.atomic
def partner_job_start(*, partner: Model, kind: str, parameters: dict[str, Any]) -> PartnerJob:
    """Queues a job for a partner and remembers that the partner owns it (GET /jobs/{id}/)."""
    run = job_start(kind=kind, parameters=parameters, trigger="api", scope=f"partner:{partner.pk}")
    return PartnerJob.objects.create(partner=partner, job=run)
