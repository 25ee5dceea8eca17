"""Month partitions: create, list, detach → archive → drop, and restore from the archive."""

import datetime as dt
import subprocess

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.common.partitions import add_months, month_start, partition_name
from apps.jobs.services import job_execute, job_start
from apps.telematics.ingest import US, SampleArrays
from apps.telematics.partitions import SAMPLES_TABLE, partitions_detach, partitions_ensure, partitions_list, pg_tool
from apps.telematics.services import samples_copy

OLD = dt.date(2024, 2, 1)  # far enough back that no other test touches it


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        return cursor.fetchone()[0] is not None


def samples_at(month: dt.date, n: int) -> SampleArrays:
    t0 = int(dt.datetime.combine(month, dt.time(12), tzinfo=dt.UTC).timestamp()) * US
    return SampleArrays(
        t=t0 + np.arange(n, dtype=np.int64) * US,
        lat=np.full(n, 52.5),
        lon=np.full(n, 13.4),
        speed=np.full(n, 10.0),
        acc_lon=np.zeros(n),
        acc_lat=np.zeros(n),
        heading=np.full(n, np.nan),
        speed_limit=np.full(n, 13.9),
        phone=np.full(n, -1, dtype=np.int8),
    )


@pytest.mark.django_db
def test_ensure_ahead_creates_current_and_three_months_then_nothing(settings):
    run = job_start(kind="telematics.ensure_partitions")
    run = job_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    today = dt.date.today()
    names = {p.name for p in partitions_list()}
    for k in range(4):
        assert partition_name(SAMPLES_TABLE, add_months(month_start(today), k)) in names
    assert partitions_ensure(table=SAMPLES_TABLE, first=today, last=add_months(today, 3)) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_detach_archives_drops_and_restores(tmp_path):
    name = partition_name(SAMPLES_TABLE, OLD)
    partitions_ensure(table=SAMPLES_TABLE, first=OLD, last=add_months(OLD, 1))
    samples_copy(trip_id=424242, samples=samples_at(OLD, 50))
    samples_copy(trip_id=424243, samples=samples_at(add_months(OLD, 1), 7))
    try:
        call_command("partitions", "list")
        archived = partitions_detach(before=add_months(OLD, 1), archive_dir=str(tmp_path))
        assert [a.partition for a in archived] == [name]
        assert archived[0].rows == 50 and archived[0].bytes > 0
        assert not exists(name)
        assert exists(partition_name(SAMPLES_TABLE, add_months(OLD, 1)))  # later month untouched
        # The archive restores the rows.
        db = connection.settings_dict
        subprocess.run(
            [
                pg_tool("pg_restore"),
                "-h",
                db["HOST"],
                "-p",
                str(db["PORT"]),
                "-U",
                db["USER"],
                "-d",
                db["NAME"],
                archived[0].path,
            ],
            check=True,
            capture_output=True,
        )
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*), min(trip_id) FROM "{name}"')
            assert cursor.fetchone() == (50, 424242)
            cursor.execute(
                f'ALTER TABLE {SAMPLES_TABLE} ATTACH PARTITION "{name}" '
                f"FOR VALUES FROM ('{OLD}') TO ('{add_months(OLD, 1)}')"
            )
            cursor.execute(f"SELECT count(*) FROM {SAMPLES_TABLE} WHERE trip_id = 424242")
            assert cursor.fetchone()[0] == 50
    finally:
        with connection.cursor() as cursor:
            for month in (OLD, add_months(OLD, 1)):
                cursor.execute(f'DROP TABLE IF EXISTS "{partition_name(SAMPLES_TABLE, month)}"')


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_dump_attaches_the_partition_again(tmp_path, monkeypatch):
    from apps.telematics import partitions as module

    name = partition_name(SAMPLES_TABLE, OLD)
    partitions_ensure(table=SAMPLES_TABLE, first=OLD, last=OLD)
    samples_copy(trip_id=77, samples=samples_at(OLD, 5))
    real = module.pg_tool
    monkeypatch.setattr(module, "pg_tool", lambda tool: "/bin/false" if tool == "pg_dump" else real(tool))
    try:
        with pytest.raises(Exception, match="attached again"):
            partitions_detach(before=add_months(OLD, 1), archive_dir=str(tmp_path))
        assert name in {p.name for p in partitions_list()}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {SAMPLES_TABLE} WHERE trip_id = 77")
            assert cursor.fetchone()[0] == 5
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


@pytest.mark.django_db
def test_command_works_for_the_payments_table_and_refuses_other_tables(capsys):
    call_command("partitions", "create", "--table", "transactions_payment", "--months", "1")
    call_command("partitions", "list", "--table", "transactions_payment")
    assert "transactions_payment_y" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a range-partitioned table"):
        call_command("partitions", "list", "--table", "telematics_trip")
    with pytest.raises(CommandError, match="not a table name"):
        call_command("partitions", "list", "--table", "x; DROP TABLE y")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("partitions", "detach", "--before", "2024")
