# The positions table is range-partitioned by month on recorded_at, which Django cannot express:
# it is created with SQL and the model state is kept in step beside it (as the samples in 0002).
# The key is (device_id, recorded_at): idempotency per device and instant, and the index every
# per-device read by time uses. Month partitions are created by apps.telematics.partitions.
import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telematics", "0005_badge"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="""
CREATE TABLE telematics_position (
    device_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    speed_mps real NULL,
    heading_deg real NULL,
    altitude_m real NULL,
    accuracy_m real NULL,
    battery_pct real NULL,
    CONSTRAINT telematics_position_pkey PRIMARY KEY (device_id, recorded_at)
) PARTITION BY RANGE (recorded_at);
""",
                    reverse_sql="DROP TABLE telematics_position CASCADE;",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Position",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "device_id",
                                "recorded_at",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("recorded_at", models.DateTimeField()),
                        ("received_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                        ("latitude", models.FloatField()),
                        ("longitude", models.FloatField()),
                        ("speed_mps", models.FloatField(blank=True, null=True)),
                        ("heading_deg", models.FloatField(blank=True, null=True)),
                        ("altitude_m", models.FloatField(blank=True, null=True)),
                        ("accuracy_m", models.FloatField(blank=True, null=True)),
                        ("battery_pct", models.FloatField(blank=True, null=True)),
                        (
                            "device",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="positions",
                                to="telematics.device",
                            ),
                        ),
                    ],
                    options={"ordering": ["device", "recorded_at"]},
                ),
            ],
        ),
        migrations.CreateModel(
            name="PositionCursor",
            fields=[
                (
                    "device",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="position_cursor",
                        serialize=False,
                        to="telematics.device",
                    ),
                ),
                ("dirty_from", models.DateTimeField(blank=True, null=True)),
                ("version", models.BigIntegerField(default=0)),
                ("detected_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("dirty_from__isnull", False)), fields=["device"], name="poscursor_dirty_idx"
                    )
                ],
            },
        ),
    ]
