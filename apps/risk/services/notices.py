"""What a driver is told when their safety score changes (a portal notification, e-mailed to
those who opted in), drafted from what scores_write returns so a chunk of drivers is one statement."""

from django.urls import reverse

from apps.customers.services import NotificationDraft, notifications_create


def score_change_text(*, score: int, band: str, before_score: int | None, before_band: str | None) -> tuple[str, str]:
    """(title, body) for a driver whose score or band changed; a first score counts as a change."""
    if before_score is None:
        return (
            f"Your safety score: {score}",
            f"Your first safety score is {score} out of 100 (band: {band}). "
            "Your dashboard shows what it is made of and how to raise it.",
        )
    if score > before_score:
        title = f"Safety score up to {score}"
    elif score < before_score:
        title = f"Safety score down to {score}"
    else:
        title = f"Your risk band is now {band}"
    body = f"Your safety score went from {before_score} to {score} out of 100 (band: {band})."
    if score < before_score:
        body += " Your dashboard shows what cost points and what to do about it."
    return title, body


def score_change_material(*, band: str, before_band: str | None) -> bool:
    """Whether a new score is worth telling the driver: their first score, or a new risk band. A
    point or two within the band (the nightly rescoring moves most scores so, as the 90-day window
    slides) is not; a premium it moves is told by pricing when the change passes its threshold."""
    return before_band is None or before_band != band


def scores_changed_notify(*, model, as_of, written: list[tuple]) -> int:
    """One notification per driver whose score changed materially in this write (a first score or
    a band change: score_change_material), once per new score. Returns how many were stored."""
    url = reverse("portal:dashboard")
    drafts = []
    for driver_id, band, score, before_band, before_score in written:
        if not score_change_material(band=band, before_band=before_band):
            continue
        title, body = score_change_text(score=score, band=band, before_score=before_score, before_band=before_band)
        drafts.append(
            NotificationDraft(
                customer_id=int(driver_id),
                kind="score_changed",
                title=title,
                body=body,
                url=url,
                dedupe_key=f"score:{model.pk}:{as_of}:{score}:{band}",
            )
        )
    return len(notifications_create(drafts=drafts))
