"""A driver whose safety score changes is told in the portal (and by e-mail if they opted in):
one statement per scoring chunk, once per new score."""

import datetime as dt

import pytest

from apps.customers.models import Notification
from apps.risk.models import RiskScore
from apps.risk.services import scores as services
from apps.risk.services.notices import scores_changed_notify
from tests.customers.factories import CustomerFactory
from tests.risk.factories import RiskModelFactory

pytestmark = pytest.mark.django_db


def test_scoring_tells_each_driver_their_new_score_once(active_model, simulated):
    chosen = sorted(int(i) for i in simulated[0][:5])
    services.drivers_score(driver_ids=chosen)
    notes = Notification.objects.filter(kind="score_changed")
    assert sorted(notes.values_list("customer_id", flat=True)) == chosen
    score = RiskScore.objects.get(driver_id=chosen[0])
    note = notes.get(customer_id=chosen[0])
    assert note.title == f"Your safety score: {score.safety_score}"
    assert note.url == "/portal/"
    services.drivers_score(driver_ids=chosen)  # a rerun writes no score, so tells nobody again
    assert notes.count() == 5


def test_a_score_going_up_or_down_or_only_the_band_moving_reads_so(django_assert_num_queries):
    model = RiskModelFactory()
    up, down, band, same, nudged = CustomerFactory.create_batch(5)
    as_of = dt.date(2026, 7, 1)
    written = [
        (up.pk, "low", 84, "mild", 79),
        (down.pk, "medium", 58, "mild", 71),
        (band.pk, "mild", 71, "medium", 71),
        (same.pk, "mild", 70, "mild", 70),  # unchanged: nothing to tell
        (nudged.pk, "mild", 72, "mild", 71),  # a point within the band: not material, not told
    ]
    with django_assert_num_queries(1):
        assert scores_changed_notify(model=model, as_of=as_of, written=written) == 3
    notes = {n.customer_id: n for n in Notification.objects.all()}
    assert notes[up.pk].title == "Safety score up to 84"
    assert notes[up.pk].body == "Your safety score went from 79 to 84 out of 100 (band: low)."
    assert notes[down.pk].title == "Safety score down to 58"
    assert "what cost points" in notes[down.pk].body
    assert notes[band.pk].title == "Your risk band is now mild"
    assert same.pk not in notes and nudged.pk not in notes
    assert scores_changed_notify(model=model, as_of=as_of, written=written) == 0
