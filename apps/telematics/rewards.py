"""Badges and streaks from a driver's scored trips: the rules in one place.

A streak rule runs over consecutive scored trips (oldest first) that keep its condition; a trip
that breaks it starts the streak again. A streak badge is earned when the streak reaches its
length, in days (first trip's start to last trip's end) or in km. A trip rule is earned by the first
trip that meets it. Rules are evaluated by the trip-features task after each batch of trips, for
the drivers of those trips only, and each badge is stored once (`Badge`), so evaluating again
changes nothing.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Avg, Count

from apps.telematics.models import Badge, Trip


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    description: str
    keeps: Callable[[dict], bool]  # for a streak: the trip keeps it; for a trip rule: the trip earns it
    days: int | None = None
    km: float | None = None

    @property
    def is_streak(self) -> bool:
        return self.days is not None or self.km is not None


RULES: tuple[Rule, ...] = (
    Rule(
        "first_trip",
        "First trip",
        "Your first trip scored.",
        keeps=lambda t: True,
    ),
    Rule(
        "smooth_week",
        "Smooth week",
        "A week of trips without harsh braking.",
        keeps=lambda t: t["harsh_brake_count"] == 0,
        days=7,
    ),
    Rule(
        "limit_keeper_500",
        "Limit keeper",
        "500 km in a row without speeding.",
        keeps=lambda t: t["speeding_count"] == 0 and t["speeding_s"] == 0,
        km=500,
    ),
    Rule(
        "phone_free_month",
        "Eyes on the road",
        "30 days of trips without touching the phone while moving.",
        keeps=lambda t: t["phone_use_s"] == 0,
        days=30,
    ),
    Rule(
        "top_score",
        "Top score",
        "A trip of 10 km or more scored 90 or better.",
        keeps=lambda t: t["score"] is not None and t["score"] >= 90 and t["distance_km"] >= 10,
    ),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}

_TRIP_FIELDS = (
    "id",
    "driver_id",
    "started_at",
    "ended_at",
    "distance_km",
    "harsh_brake_count",
    "speeding_count",
    "speeding_s",
    "phone_use_s",
    "score",
)


@dataclass(frozen=True)
class StreakState:
    rule: Rule
    days: float
    km: float
    earned_at: dt.datetime | None
    trip_id: int | None

    @property
    def progress(self) -> float:
        """0..1 towards the rule's length (1 once reached in the current streak)."""
        if self.rule.days is not None:
            return min(1.0, self.days / self.rule.days)
        return min(1.0, self.km / self.rule.km)


def _scored_trips(driver_ids: Iterable[int]):
    return (
        Trip.objects.filter(driver_id__in=list(driver_ids), feature_status=Trip.FeatureStatus.DONE)
        .order_by("driver_id", "started_at", "id")
        .values(*_TRIP_FIELDS)
    )


def evaluate_trips(trips: list[dict]) -> tuple[dict[str, tuple[dt.datetime, int]], dict[str, StreakState]]:
    """One driver's scored trips, oldest first → (rule code → (earned at, trip id) of the first time
    each rule was met, rule code → the current streak). Pure: no database."""
    earned: dict[str, tuple[dt.datetime, int]] = {}
    streaks: dict[str, StreakState] = {}
    for rule in RULES:
        start: dict | None = None
        km = 0.0
        last: dict | None = None
        for trip in trips:
            if not rule.is_streak:
                if rule.keeps(trip):
                    earned[rule.code] = (trip["ended_at"], trip["id"])
                    break
                continue
            if not rule.keeps(trip):
                start, km, last = None, 0.0, None
                continue
            start = start or trip
            km += trip["distance_km"]
            last = trip
            days = (trip["ended_at"] - start["started_at"]).total_seconds() / 86400
            reached = (rule.days is not None and days >= rule.days) or (rule.km is not None and km >= rule.km)
            if reached and rule.code not in earned:
                earned[rule.code] = (trip["ended_at"], trip["id"])
        if rule.is_streak:
            days = (last["ended_at"] - start["started_at"]).total_seconds() / 86400 if start and last else 0.0
            streaks[rule.code] = StreakState(rule, days, km, *earned.get(rule.code, (None, None)))
    return earned, streaks


def badges_evaluate(*, driver_ids: Iterable[int]) -> list[Badge]:
    """Stores the badges these drivers have newly earned and returns them (oldest first)."""
    by_driver: dict[int, list[dict]] = {}
    for trip in _scored_trips(driver_ids):
        by_driver.setdefault(trip["driver_id"], []).append(trip)
    if not by_driver:
        return []
    have = set(Badge.objects.filter(driver_id__in=by_driver).values_list("driver_id", "code"))
    new = []
    for driver_id, trips in by_driver.items():
        earned, _ = evaluate_trips(trips)
        for code, (earned_at, trip_id) in earned.items():
            if (driver_id, code) not in have:
                new.append(Badge(driver_id=driver_id, code=code, earned_at=earned_at, trip_id=trip_id))
    with transaction.atomic():
        # A concurrent evaluation may have stored the same badge: the unique constraint keeps one.
        Badge.objects.bulk_create(new, ignore_conflicts=True)
    return sorted(new, key=lambda b: b.earned_at)


def driver_rewards(*, driver_id: int) -> dict:
    """The portal's rewards page: every rule with its badge (if earned) and, for streak rules, the
    current streak's progress."""
    trips = list(_scored_trips([driver_id]))
    _, streaks = evaluate_trips(trips)
    badges = {b.code: b for b in Badge.objects.filter(driver_id=driver_id)}
    rows = []
    for rule in RULES:
        streak = streaks.get(rule.code)
        rows.append({"rule": rule, "badge": badges.get(rule.code), "streak": streak})
    return {"rules": rows, "earned": sum(1 for r in rows if r["badge"]), "total": len(rows)}


LEADERBOARD_DAYS = 30
LEADERBOARD_MIN_TRIPS = 3


def region_leaderboard(*, driver_id: int, region_id: int | None, now: dt.datetime, size: int = 10) -> dict:
    """Drivers of one region who opted in, ranked by their mean trip score over the last 30 days
    (at least 3 trips). Anonymous: only ranks, scores and which row is the viewer's."""
    if region_id is None:
        return {"rows": [], "you": None, "drivers": 0}
    since = now - dt.timedelta(days=LEADERBOARD_DAYS)
    ranked = list(
        Trip.objects.filter(
            driver__leaderboard_opt_in=True,
            driver__home_store__region_id=region_id,
            feature_status=Trip.FeatureStatus.DONE,
            started_at__gte=since,
            score__isnull=False,
        )
        .values("driver_id")
        .annotate(mean_score=Avg("score"), trips=Count("id"))
        .filter(trips__gte=LEADERBOARD_MIN_TRIPS)
        .order_by("-mean_score", "driver_id")
    )
    rows = [
        {"rank": i, "mean_score": r["mean_score"], "trips": r["trips"], "is_you": r["driver_id"] == driver_id}
        for i, r in enumerate(ranked, start=1)
    ]
    you = next((r for r in rows if r["is_you"]), None)
    shown = rows[:size]
    if you is not None and you not in shown:
        shown.append(you)
    return {"rows": shown, "you": you, "drivers": len(rows)}
