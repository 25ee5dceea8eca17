import datetime as dt

import pytest
from django.core import mail

from apps.customers.models import Notification
from apps.telematics.follow_ups import trips_scored_follow_up
from apps.telematics.models import Badge, Trip
from apps.telematics.rewards import badges_evaluate, driver_rewards, evaluate_trips, region_leaderboard
from tests.customers.factories import CustomerFactory
from tests.regions.factories import StoreFactory
from tests.telematics.factories import TripFactory

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def _trip(day: float, *, km=20.0, brakes=0, speeding=0, phone=0.0, score=80, pk=None):
    start = T0 + dt.timedelta(days=day)
    return {
        "id": pk or int(day * 10) + 1,
        "driver_id": 1,
        "started_at": start,
        "ended_at": start + dt.timedelta(minutes=30),
        "distance_km": km,
        "harsh_brake_count": brakes,
        "speeding_count": speeding,
        "speeding_s": 0.0 if not speeding else 15.0,
        "phone_use_s": phone,
        "score": score,
    }


def test_a_week_without_harsh_braking_earns_smooth_week_on_the_trip_that_completes_it():
    trips = [_trip(d) for d in range(8)]
    earned, streaks = evaluate_trips(trips)
    assert earned["smooth_week"][1] == trips[7]["id"]
    assert streaks["smooth_week"].progress == 1.0


def test_a_harsh_brake_restarts_the_streak():
    trips = [_trip(d) for d in range(5)] + [_trip(5, brakes=1)] + [_trip(d) for d in range(6, 10)]
    earned, streaks = evaluate_trips(trips)
    assert "smooth_week" not in earned
    assert 3.0 < streaks["smooth_week"].days < 4.0
    assert streaks["smooth_week"].progress == pytest.approx(streaks["smooth_week"].days / 7)


def test_km_streak_counts_only_trips_without_speeding():
    trips = [_trip(d, km=200) for d in range(2)] + [_trip(2, km=200, speeding=1)]
    trips += [_trip(d, km=200) for d in (3, 4, 5)]
    earned, streaks = evaluate_trips(trips)
    assert earned["limit_keeper_500"][1] == trips[5]["id"]  # 600 km after the speeding trip, not 400 before
    assert streaks["limit_keeper_500"].km == 600


def test_top_score_needs_ten_km_and_a_score_of_ninety():
    earned, _ = evaluate_trips([_trip(0, km=5, score=99), _trip(1, km=12, score=89), _trip(2, km=12, score=90)])
    assert earned["top_score"][1] == _trip(2)["id"]
    assert earned["first_trip"][1] == _trip(0, km=5)["id"]


@pytest.mark.django_db
def test_badges_are_stored_once_from_real_trips_and_notified(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    driver = CustomerFactory(email="dana@example.com", notify_by_email=True)
    other = CustomerFactory()
    trips = [
        TripFactory(
            driver=driver, started_at=T0 + dt.timedelta(days=d), feature_status="done", score=92, distance_km=15
        )
        for d in range(8)
    ]
    TripFactory(driver=other, started_at=T0, feature_status="done", score=50)
    trips_scored_follow_up(trips=trips)
    codes = set(Badge.objects.filter(driver=driver).values_list("code", flat=True))
    assert codes == {"first_trip", "smooth_week", "top_score"}
    assert not Badge.objects.filter(driver=other).exists()  # only the drivers of the batch
    kinds = list(Notification.objects.filter(customer=driver).values_list("kind", flat=True))
    assert kinds.count("trip_scored") == 1 and kinds.count("badge") == 3
    assert badges_evaluate(driver_ids=[driver.pk]) == []  # again: nothing new
    assert len(mail.outbox) == 0  # e-mail goes on commit; the test transaction has not committed


@pytest.mark.django_db(transaction=True)
def test_notifications_are_emailed_after_commit_only_to_drivers_who_opted_in(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yes = CustomerFactory(email="yes@example.com", notify_by_email=True)
    no = CustomerFactory(email="no@example.com", notify_by_email=False)
    trips = [TripFactory(driver=d, feature_status="done", score=70) for d in (yes, no)]
    trips_scored_follow_up(trips=trips)
    assert [m.to for m in mail.outbox] == [["yes@example.com"]] * len(mail.outbox) and mail.outbox
    assert "/portal/trips/" in mail.outbox[0].body
    trips_scored_follow_up(trips=trips)  # a retried task: no second notification, no second e-mail
    assert Notification.objects.filter(customer=yes, kind="trip_scored").count() == 1


@pytest.mark.django_db
def test_rewards_page_data_and_an_anonymous_region_leaderboard():
    store = StoreFactory()
    me = CustomerFactory(home_store=store, leaderboard_opt_in=True)
    rival = CustomerFactory(home_store=store, leaderboard_opt_in=True)
    shy = CustomerFactory(home_store=store, leaderboard_opt_in=False)
    now = T0 + dt.timedelta(days=10)
    for driver, score in ((me, 80), (rival, 90), (shy, 99)):
        for d in range(3):
            TripFactory(driver=driver, started_at=T0 + dt.timedelta(days=d), feature_status="done", score=score)
    board = region_leaderboard(driver_id=me.pk, region_id=store.region_id, now=now)
    assert [(r["rank"], r["mean_score"], r["is_you"]) for r in board["rows"]] == [(1, 90, False), (2, 80, True)]
    assert board["drivers"] == 2
    assert all("driver_id" not in r for r in board["rows"])
    rewards = driver_rewards(driver_id=me.pk)
    assert rewards["total"] == 5 and rewards["earned"] == 0  # evaluated by the task, not by the page
    assert Trip.objects.filter(driver=me).count() == 3
