"""The OsmAnd endpoint's accept-and-buffer: a checked position is answered from Redis and
stored by the flusher exactly once, whatever dies when; device and consent are checked again
at the flush; without Redis the request stores its position itself."""

import pytest
import redis
from django.utils import timezone

from apps.customers.services import consent_withdraw
from apps.telematics import hooks, tasks
from apps.telematics.models import Position, PositionRejection
from apps.telematics.positions import buffer
from apps.telematics.services import device_revoke
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.test_positions_api import OSMAND, traccar_get

pytestmark = pytest.mark.django_db
THROUGH_LEAN_PATH = True  # every test twice: Django's stack, and the lean path before it (conftest)


@pytest.fixture
def device():
    return DeviceFactory(customer=TelematicsConsentFactory().customer, serial="BUF-1")


@pytest.fixture
def no_flusher(monkeypatch):
    """Requests buffer, and nobody flushes until the test says so; the stream starts empty."""
    client = buffer._redis()
    stream, flag = buffer._keys()
    client.delete(stream, flag)
    wanted = []
    monkeypatch.setattr(hooks.positions_flush_wanted, "_receivers", [lambda: wanted.append(1)])
    yield wanted
    client.delete(stream, flag)


NOW = int(timezone.now().timestamp())  # one clock for the module: equal offsets are equal instants


def _send(client, device, seconds_ago: int, **overrides):
    ts = str(NOW - seconds_ago)
    return client.get(OSMAND, traccar_get(device, timestamp=ts, **overrides))


def _length() -> int:
    return buffer._redis().xlen(buffer._keys()[0])


def test_positions_are_answered_from_the_buffer_and_stored_by_one_flush(client, device, no_flusher):
    for seconds in (90, 60, 30, 60):  # the last one repeats an instant: the first received wins
        assert _send(client, device, seconds, lat=f"52.{seconds}").status_code == 200
    assert not Position.objects.exists()
    assert _length() == 4
    assert no_flusher == [1]  # one flush asked for while it waits, not one per request
    counts = buffer.positions_flush()
    assert counts == {"entries": 4, "stored": 3, "duplicates": 1, "refused": 0}
    assert sorted(Position.objects.values_list("latitude", flat=True)) == [52.3, 52.6, 52.9]
    assert _length() == 0
    # the flush cleared its flag: the next position asks for a flush again
    assert _send(client, device, 10).status_code == 200
    assert no_flusher == [1, 1]


def test_positions_never_to_be_stored_are_recorded_before_the_buffer(client, device, no_flusher):
    assert _send(client, device, 30, lat="95").status_code == 200
    assert _send(client, device, 8 * 86400).status_code == 200
    assert _send(client, device, 20, lat="north").json()["errors"]["field"] == "lat"
    assert _length() == 0 and no_flusher == []
    assert sorted(PositionRejection.objects.values_list("reason", "count")) == [
        ("coordinates_out_of_range", 1),
        ("older_than_window", 1),
    ]


def test_a_flusher_that_dies_before_its_commit_leaves_its_entries_to_the_next(client, device, no_flusher):
    for seconds in (50, 40):
        _send(client, device, seconds)
    stream, _ = buffer._keys()
    r = buffer._redis()
    buffer._ensure_group(r, stream)
    read = r.xreadgroup(buffer.GROUP, "dead-flusher", {stream: ">"}, count=10)  # read, then died
    assert len(read[0][1]) == 2
    assert buffer.positions_flush()["entries"] == 0  # not idle long enough to be taken over
    assert buffer.positions_flush(claim_idle_s=0) == {"entries": 2, "stored": 2, "duplicates": 0, "refused": 0}
    assert Position.objects.count() == 2 and _length() == 0
    assert buffer.positions_flush(claim_idle_s=0)["entries"] == 0


def test_a_flusher_that_dies_after_its_commit_stores_nothing_twice(client, device, no_flusher, monkeypatch):
    for seconds in (50, 40, 30):
        _send(client, device, seconds)
    real_pipeline = redis.Redis.pipeline

    class DiesBeforeAck:
        def __init__(self, *args, **kwargs):
            pass

        def xack(self, *args):
            raise redis.ConnectionError("killed between commit and acknowledgement")

    monkeypatch.setattr(redis.Redis, "pipeline", lambda self, **kw: DiesBeforeAck())
    with pytest.raises(redis.ConnectionError):
        buffer.positions_flush()
    assert Position.objects.count() == 3 and _length() == 3
    monkeypatch.setattr(redis.Redis, "pipeline", real_pipeline)
    assert buffer.positions_flush(claim_idle_s=0) == {"entries": 3, "stored": 0, "duplicates": 3, "refused": 0}
    assert Position.objects.count() == 3 and _length() == 0


def test_consent_withdrawn_or_device_revoked_after_the_answer_stores_nothing(client, device, no_flusher):
    other = DeviceFactory(customer=TelematicsConsentFactory().customer, serial="BUF-2")
    assert _send(client, device, 30).status_code == 200
    assert _send(client, other, 30).status_code == 200
    consent_withdraw(customer=device.customer)
    device_revoke(device=other)
    assert buffer.positions_flush() == {"entries": 2, "stored": 0, "duplicates": 0, "refused": 2}
    assert not Position.objects.exists() and _length() == 0
    # and from then on the endpoint refuses them itself
    assert _send(client, device, 20).status_code == 403
    assert _send(client, other, 20).status_code == 401


def test_without_redis_the_request_stores_its_position_itself(client, device, no_flusher, monkeypatch):
    class Down:
        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise redis.ConnectionError("Redis is down")

            return refuse

    monkeypatch.setattr(buffer, "_redis", lambda: Down())
    assert _send(client, device, 30).status_code == 200
    assert _send(client, device, 20).status_code == 200
    assert Position.objects.count() == 2


def test_the_flush_task_is_what_the_requests_queue(client, device):
    """With the task connected (eager in tests), a request's position is stored by the time the
    answer arrives here."""
    assert tasks.positions_flush_enqueue in hooks.positions_flush_wanted.receivers
    assert _send(client, device, 30).status_code == 200
    assert Position.objects.count() == 1 and _length() == 0


def test_without_the_buffer_each_request_stores_its_position(client, device, settings):
    settings.TELEMATICS = {**settings.TELEMATICS, "POSITION_BUFFER": 0}
    assert _send(client, device, 30).status_code == 200
    assert Position.objects.count() == 1 and _length() == 0


def test_a_known_device_is_answered_without_the_database(client, device, no_flusher, django_assert_num_queries):
    """After one checked request, the device's next ones are checked from memory and appended
    in one Redis round trip: no query at all."""
    assert _send(client, device, 60).status_code == 200
    with django_assert_num_queries(0):
        for seconds in (50, 40, 30):
            assert _send(client, device, seconds).status_code == 200
        assert _send(client, device, 20, lat="north").status_code == 400  # parsing, from memory too
    assert _send(client, device, 20, lat="95").status_code == 200  # cleaning: recorded by the view
    assert PositionRejection.objects.get().reason == "coordinates_out_of_range"
    assert _length() == 4
    assert buffer.positions_flush()["stored"] == 4


@pytest.mark.parametrize("change", ["withdraw", "revoke"])
def test_a_change_seen_by_the_fast_path_is_checked_again(client, device, no_flusher, change):
    """The append that read a moved version is answered as the database says now, and its
    entry is refused at the flush: nothing is stored."""
    assert _send(client, device, 60).status_code == 200
    buffer.positions_flush()
    if change == "withdraw":
        consent_withdraw(customer=device.customer)
    else:
        device_revoke(device=device)
    assert _send(client, device, 30).status_code == (403 if change == "withdraw" else 401)
    assert _length() == 1  # appended before the versions were seen
    assert buffer.positions_flush() == {"entries": 1, "stored": 0, "duplicates": 0, "refused": 1}
    assert Position.objects.count() == 1


def test_the_flusher_process_stores_as_the_stream_fills_and_holds_the_flag(client, device, no_flusher):
    """The Procfile's flusher: while it runs, requests queue no Celery flush (it holds the flag);
    what arrives while it runs is stored by its next round; once stopped, requests ask again."""
    for seconds in (90, 80, 70):
        assert _send(client, device, seconds).status_code == 200
    assert no_flusher == [1]
    rounds = []

    def should_stop():
        rounds.append(1)
        if len(rounds) == 2:  # after the first round, a request arrives
            assert _send(client, device, 60).status_code == 200
            assert Position.objects.count() == 3 and _length() == 1
        return len(rounds) > 2

    counts = buffer.positions_flush_forever(should_stop=should_stop, interval_s=0)
    assert counts == {"entries": 4, "stored": 4, "duplicates": 0, "refused": 0}
    assert no_flusher == [1]  # the request during the run queued nothing
    assert Position.objects.count() == 4 and _length() == 0
    assert _send(client, device, 50).status_code == 200
    assert no_flusher == [1, 1]


def test_the_flusher_makes_its_group_again_when_the_stream_is_deleted(client, device, no_flusher):
    stream, _ = buffer._keys()
    rounds = []

    def should_stop():
        rounds.append(1)
        if len(rounds) == 2:
            buffer._redis().delete(stream)  # an operator emptied the buffer
            _send(client, device, 40)
        return len(rounds) > 4

    assert buffer.positions_flush_forever(should_stop=should_stop, interval_s=0)["stored"] == 1


def test_the_flusher_command_survives_a_failed_round(monkeypatch):
    """A database or Redis outage in a round is logged and the round started again: the process
    (one of `make run`'s, where one exiting stops them all) keeps running until told to stop."""
    import signal

    from django.core.management import call_command

    from apps.telematics.management.commands import positions_flusher

    calls = []

    def flush_forever(*, should_stop):
        calls.append(1)
        if len(calls) == 1:
            raise redis.ConnectionError("Redis restarting")
        signal.raise_signal(signal.SIGTERM)
        assert should_stop()
        return {"entries": 0}

    monkeypatch.setattr(positions_flusher, "positions_flush_forever", flush_forever)
    monkeypatch.setattr(positions_flusher, "RESTART_DELAY_S", 0)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        call_command("positions_flusher")
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert len(calls) == 2
