# The samples table is range-partitioned by month on recorded_at, which Django cannot express:
# it is created with SQL and the model state is kept in step beside it. The partition key must
# be in the primary key, so the key is (trip_id, recorded_at), which is also the index every
# per-trip read uses. Measures other than the coordinates are real (float4): 1 Hz sensor
# values do not need double precision and the table is the largest in the system.
# Month partitions are created by apps.telematics.partitions (ingestion, the beat job and
# `manage.py partitions create`).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telematics", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="trip",
            name="gap_s",
            field=models.FloatField(default=0, help_text="Time inside gaps between fixes (neither moving nor idle)."),
        ),
        migrations.AddField(
            model_name="trip",
            name="speeding_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="""
CREATE TABLE telematics_telematicssample (
    trip_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    speed_mps real NOT NULL,
    accel_lon_mps2 real NOT NULL,
    accel_lat_mps2 real NOT NULL,
    heading_deg real NULL,
    speed_limit_mps real NULL,
    phone_use boolean NULL,
    CONSTRAINT telematics_telematicssample_pkey PRIMARY KEY (trip_id, recorded_at)
) PARTITION BY RANGE (recorded_at);
""",
                    reverse_sql="DROP TABLE telematics_telematicssample CASCADE;",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="TelematicsSample",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "trip_id", "recorded_at", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("recorded_at", models.DateTimeField()),
                        ("latitude", models.FloatField()),
                        ("longitude", models.FloatField()),
                        ("speed_mps", models.FloatField()),
                        (
                            "accel_lon_mps2",
                            models.FloatField(help_text="Longitudinal acceleration, negative when braking."),
                        ),
                        ("accel_lat_mps2", models.FloatField(help_text="Lateral acceleration.")),
                        ("heading_deg", models.FloatField(blank=True, null=True)),
                        ("speed_limit_mps", models.FloatField(blank=True, null=True)),
                        ("phone_use", models.BooleanField(blank=True, null=True)),
                        (
                            "trip",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="samples",
                                to="telematics.trip",
                            ),
                        ),
                    ],
                    options={"ordering": ["trip", "recorded_at"]},
                ),
            ],
        ),
    ]
