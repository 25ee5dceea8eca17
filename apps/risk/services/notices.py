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


def scores_changed_notify(*, model, as_of, written: list[tuple]) -> int:
    """One notification per driver whose (band, score) changed in this write, once per new score.
    Returns how many were stored."""
    url = reverse("portal:dashboard")
    drafts = []
    for driver_id, band, score, before_band, before_score in written:
        if before_band is not None and (before_band, before_score) == (band, score):
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
