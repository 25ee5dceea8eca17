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
