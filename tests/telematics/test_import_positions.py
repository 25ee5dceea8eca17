"""manage.py import_positions: a CSV of last year's positions becomes trips."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from apps.telematics.models import Position, Trip
from apps.telematics.partitions import partitions_list
from apps.telematics.positions.services import POSITIONS_TABLE
from tests.customers.factories import TelematicsConsentFactory
from tests.telematics.factories import DeviceFactory
from tests.telematics.streams import legs

pytestmark = pytest.mark.django_db


@pytest.fixture
def device():
    return DeviceFactory(customer=TelematicsConsentFactory().customer, serial="PHONE-1")


def write_csv(path, t, lat, lon, v, *, device_id="1234", naive_local=False):
    lines = ["deviceId,fixTime,latitude,longitude,speed,course,altitude,accuracy"]
    for ti, la, lo, sp in zip(t, lat, lon, v, strict=True):
        moment = dt.datetime.fromtimestamp(ti / 1e6, tz=dt.UTC)
        when = moment.replace(tzinfo=None).isoformat() if naive_local else moment.isoformat()
        lines.append(f"{device_id},{when},{la:.7f},{lo:.7f},{sp / 0.514444:.3f},0,35,6")
    path.write_text("\n".join(lines) + "\n")


def test_last_years_positions_import_into_trips(tmp_path, device, capsys):
    start = dt.datetime(2025, 11, 30, 23, 40, tzinfo=dt.UTC)  # across a month end, over a year ago
    t, lat, lon, v = legs(start, [(300, 0), (1500, 13), (600, 0), (900, 11), (600, 0)], every=30)
    csv = tmp_path / "export.csv"
    write_csv(csv, t, lat, lon, v)
    call_command("import_positions", str(csv), "--device-map", "1234=PHONE-1", "--speed-unit", "knots")
    assert Position.objects.filter(device=device).count() == len(t)
    trips = list(Trip.objects.filter(device=device).order_by("started_at"))
    assert len(trips) == 2
    assert trips[0].started_at.month == 11 and trips[0].ended_at.month == 12
    assert all(x.feature_status == Trip.FeatureStatus.DONE for x in trips)
    assert trips[0].distance_km == pytest.approx(1500 * 13 / 1000, rel=0.02)
    assert trips[0].harsh_brake_count is None  # 30 s spacing: not measurable
    assert trips[0].sampling_interval_s == 30.0
    # Again: nothing is stored twice and the trips stay as they were.
    call_command("import_positions", str(csv), "--device-map", "1234=PHONE-1", "--speed-unit", "knots")
    assert "0 stored" in capsys.readouterr().out.splitlines()[-2]
    assert [x.pk for x in Trip.objects.filter(device=device).order_by("started_at")] == [x.pk for x in trips]


def test_positions_of_any_age_import_and_their_months_get_partitions(tmp_path, device):
    """Far beyond the live endpoints' window (and the trip uploads' 400 days): the import takes
    any age and creates the partitions of months that have none."""
    start = dt.datetime(2019, 2, 28, 23, 50, tzinfo=dt.UTC)  # across a month end, years ago
    t, lat, lon, v = legs(start, [(60, 0), (900, 12), (600, 0)], every=30)
    csv = tmp_path / "old.csv"
    write_csv(csv, t, lat, lon, v, device_id="PHONE-1")
    months = {p.start for p in partitions_list(table=POSITIONS_TABLE)}
    assert dt.date(2019, 2, 1) not in months and dt.date(2019, 3, 1) not in months
    call_command("import_positions", str(csv), "--speed-unit", "knots")
    months = {p.start for p in partitions_list(table=POSITIONS_TABLE)}
    assert {dt.date(2019, 2, 1), dt.date(2019, 3, 1)} <= months
    assert Position.objects.filter(device=device).count() == len(t)
    (trip,) = Trip.objects.filter(device=device)
    assert trip.started_at.month == 2 and trip.ended_at.month == 3


def test_naive_times_are_read_in_the_given_zone(tmp_path, device):
    start = dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC)
    t, lat, lon, v = legs(start, [(60, 0), (600, 12), (600, 0)], every=30)
    csv = tmp_path / "export.csv"
    write_csv(csv, t, lat, lon, v, device_id="PHONE-1", naive_local=True)
    call_command("import_positions", str(csv), "--tz", "Europe/Berlin", "--no-detect")
    first = Position.objects.filter(device=device).order_by("recorded_at").first()
    assert first.recorded_at == start - dt.timedelta(hours=2)  # 10:00 in Berlin in June is 08:00 UTC


def test_a_bad_line_is_named_and_unknown_devices_are_reported(tmp_path, device, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("id,time,lat,lon\nPHONE-1,2025-06-01T10:00:00Z,52.5,13.4\nPHONE-1,2025-06-01T10:00:30Z,north,13.4\n")
    with pytest.raises(CommandError, match=r"bad.csv:3: lat 'north' is not a number"):
        call_command("import_positions", str(csv))
    assert not Position.objects.exists()
    csv.write_text("id,time,lat,lon\nSTRANGER,2025-06-01T10:00:00Z,52.5,13.4\n")
    call_command("import_positions", str(csv), "--no-detect")
    assert "device STRANGER: refused (unknown_device)" in capsys.readouterr().out
