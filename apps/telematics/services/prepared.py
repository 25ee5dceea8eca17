"""Prepared statements on Django's own connection, for the statements of every upload."""

from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def prepared_cursor():
    """A server-side-binding cursor on Django's own connection (so in its transaction) whose
    statements run with `prepare=True` are prepared once per connection and then only executed.

    The upload's statements are planned on every request otherwise: for the trip insert the
    planning cost more than the execution. Django turns psycopg's prepared statements off per
    connection (prepare_threshold None); they are turned on only around these statements, and
    the statements psycopg prepared stay known to it in between."""
    connection.close_if_health_check_failed()  # as Django's own cursor() does
    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    if threshold is None:
        raw.prepare_threshold = 1_000_000  # only statements executed with prepare=True
    try:
        # Django's exception classes, and a connection marked for closing when it broke.
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            yield cursor
    finally:
        raw.prepare_threshold = threshold
