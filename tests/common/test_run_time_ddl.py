"""DDL the application does at run time, as the application role the suite runs as (as web and
workers do): month partitions of payments, samples and streamed positions, and the ingest's
staging tables, are created by it and are its own. Rolled back with the test."""

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection

from apps.common.partitions import partition_create_sql
from apps.telematics.partitions import SAMPLES_TABLE, partitions_ensure
from apps.telematics.positions.services import POSITIONS_TABLE

pytestmark = pytest.mark.django_db

MONTH = dt.date(2098, 3, 1)


def _owner(relation: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)", [relation])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("parent", [SAMPLES_TABLE, POSITIONS_TABLE])
def test_month_partitions_are_created_by_the_application_role(parent):
    assert _owner(parent) == settings.DATABASE_APP_ROLE  # what lets it add partitions
    (created,) = partitions_ensure(table=parent, first=MONTH, last=MONTH)
    assert _owner(created) == settings.DATABASE_APP_ROLE


def test_payment_partitions_and_staging_tables_too():
    with connection.cursor() as cursor:
        cursor.execute(partition_create_sql("transactions_payment", MONTH))
        cursor.execute("CREATE UNLOGGED TABLE ingest_staging.run_time_ddl_check (line text)")
    assert _owner("transactions_payment_y2098m03") == settings.DATABASE_APP_ROLE
    assert _owner("ingest_staging.run_time_ddl_check") == settings.DATABASE_APP_ROLE
