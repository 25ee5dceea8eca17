import numpy as np
import pytest
from django.db import connection

from apps.common.sql import int_array_literal, pgcopy_decode, pgcopy_encode

COLUMNS = [("id", ">i8"), ("score", ">i4"), ("value", ">f8")]


def test_int_array_literal():
    assert int_array_literal([3, 1, 2]) == "{3,1,2}"
    assert int_array_literal(np.array([], dtype=np.int64)) == "{}"


@pytest.mark.django_db
def test_binary_copy_rows_round_trip_through_postgresql():
    values = {"id": np.array([1, 2**40]), "score": np.array([-7, 100]), "value": np.array([0.1, -1e300])}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_round_trip (id bigint, score int, value float8)")
        with cursor.copy("COPY copy_round_trip FROM STDIN (FORMAT binary)") as copy:
            copy.write(pgcopy_encode(COLUMNS, values))
        cursor.execute("SELECT id, score, value FROM copy_round_trip ORDER BY id")
        assert cursor.fetchall() == [(1, -7, 0.1), (2**40, 100, -1e300)]
        with cursor.copy("COPY (SELECT * FROM copy_round_trip ORDER BY id) TO STDOUT (FORMAT binary)") as copy:
            payload = b"".join(bytes(block) for block in copy)
    rows = pgcopy_decode(payload, COLUMNS)
    for name, array in values.items():
        assert rows[name].tolist() == array.tolist()
    with pytest.raises(ValueError, match="without NULLs"):
        pgcopy_decode(payload, COLUMNS[:2])  # a column fewer than the rows carry
    with pytest.raises(ValueError, match="not a COPY BINARY payload"):
        pgcopy_decode(b"1,2,3\n", COLUMNS)


def test_sql_files_load_by_statement_name(tmp_path, monkeypatch):
    import sys
    import types

    from psycopg import sql

    from apps.common import sql as sql_files

    package = tmp_path / "pkg"
    (package / "sql").mkdir(parents=True)
    (package / "sql" / "two.sql").write_text(
        "-- a comment about the file\n\n-- @statement first\nSELECT 1;\n\n"
        "-- @statement second\nSELECT * FROM {table};\n"
    )
    (package / "sql" / "one.sql").write_text("-- one statement\nSELECT 2;\n")
    module = types.ModuleType("fake_sql_owner")
    module.__file__ = str(package / "module.py")
    monkeypatch.setitem(sys.modules, "fake_sql_owner", module)

    assert sql_files.statements("fake_sql_owner", "two.sql") == {"first": "SELECT 1", "second": "SELECT * FROM {table}"}
    assert sql_files.statement("fake_sql_owner", "one.sql") == "-- one statement\nSELECT 2"
    assert sql_files.statement("fake_sql_owner", "two.sql", "first") == "SELECT 1"
    with pytest.raises(KeyError, match="name one of first, second"):
        sql_files.statement("fake_sql_owner", "two.sql")
    with pytest.raises(KeyError, match="has no statement 'third'"):
        sql_files.statement("fake_sql_owner", "two.sql", "third")
    composed = sql_files.statement_sql("fake_sql_owner", "two.sql", "second", table=sql.Identifier('odd "name'))
    assert composed.as_string(None) == 'SELECT * FROM "odd ""name"'


@pytest.mark.django_db
def test_batch_statements_run_with_jit_off_and_return_dicts_or_a_row_count():
    from apps.common.sql import execute, fetch_dicts

    assert fetch_dicts("SELECT current_setting('jit') AS jit, %(n)s::int AS n", {"n": 7}) == [{"jit": "off", "n": 7}]
    assert execute("SELECT generate_series(1, %(n)s)", {"n": 3}) == 3
