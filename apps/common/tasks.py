from celery import shared_task


@shared_task(name="common.ping")
def ping(value: str) -> dict:
    """Round-trip check for workers: returns what it got and the worker's view of the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
    return {"pong": value, "database": database}
