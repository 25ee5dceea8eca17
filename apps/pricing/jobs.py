from apps.jobs.registry import JobContext, register


@register("pricing.requote", title="Requote all active policies", params={}, schedule="45 3 * * *")
def requote(ctx: JobContext) -> dict:
    """Requotes every active policy in chunks (idempotent: unchanged inputs give no change)."""
    from apps.pricing.models import Policy
    from apps.pricing.services import REQUOTE_CHUNK, policies_requote

    driver_ids = list(
        Policy.objects.filter(status=Policy.Status.ACTIVE)
        .order_by("driver_id")
        .values_list("driver_id", flat=True)
        .distinct()
    )
    ctx.set_total(len(driver_ids), note="drivers with an active policy")
    totals = {"policies": 0, "changed": 0}
    for start in range(0, len(driver_ids), REQUOTE_CHUNK):
        ctx.check_cancelled()
        chunk = driver_ids[start : start + REQUOTE_CHUNK]
        result = policies_requote(driver_ids=chunk)
        totals = {k: totals[k] + result[k] for k in totals}
        ctx.advance(len(chunk))
    return totals
