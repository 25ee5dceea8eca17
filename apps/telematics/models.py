from django.db import models
from django.db.models import F, Q

from apps.common.models import TimeStampedModel


class Device(TimeStampedModel):
    """A telematics unit or the phone app; authenticates uploads with its own hashed token."""

    class Kind(models.TextChoices):
        OBD = "obd", "Vehicle unit"
        PHONE = "phone", "Phone app"

    serial = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.OBD)
    vehicle = models.ForeignKey(
        "fleet.Vehicle", on_delete=models.PROTECT, null=True, blank=True, related_name="devices"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="devices"
    )
    token_prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["serial"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["obd", "phone"]), name="%(app_label)s_%(class)s_kind_valid"),
            models.CheckConstraint(
                condition=Q(token_hash__regex=r"^[0-9a-f]{64}$"), name="%(app_label)s_%(class)s_token_hash_sha256"
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class Trip(TimeStampedModel):
    class FeatureStatus(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    # No single-column indexes on device, driver and vehicle: the unique (device, external_id)
    # and the (driver, started_at) and (vehicle, started_at) indexes lead with them, and every
    # upload pays for each index of this table.
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="trips", db_index=False)
    external_id = models.CharField(max_length=64, help_text="The device's own trip id.")
    driver = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="trips", db_index=False
    )
    vehicle = models.ForeignKey(
        "fleet.Vehicle", on_delete=models.PROTECT, null=True, blank=True, related_name="trips", db_index=False
    )
    rental = models.ForeignKey(
        "transactions.Rental", on_delete=models.PROTECT, null=True, blank=True, related_name="trips"
    )

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded trip"
        POSITIONS = "positions", "Detected from streamed positions"

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD, db_default="upload")
    in_progress = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Detected from positions and still open: the vehicle has not stopped yet.",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    samples_received = models.PositiveIntegerField(default=0)
    samples_stored = models.PositiveIntegerField(default=0)
    samples_dropped = models.JSONField(default=dict, blank=True, help_text="Dropped samples by reason.")
    feature_status = models.CharField(max_length=8, choices=FeatureStatus.choices, default=FeatureStatus.PENDING)
    features_computed_at = models.DateTimeField(null=True, blank=True)
    # Trip features (filled by the feature service).
    distance_km = models.FloatField(default=0)
    duration_s = models.FloatField(default=0)
    moving_s = models.FloatField(default=0)
    idle_s = models.FloatField(default=0)
    max_speed_mps = models.FloatField(default=0)
    mean_speed_mps = models.FloatField(default=0)
    # NULL: not measurable for this trip (its sampling was too sparse and it had no accelerometer).
    harsh_brake_count = models.PositiveIntegerField(default=0, null=True, blank=True)
    harsh_accel_count = models.PositiveIntegerField(default=0, null=True, blank=True)
    harsh_corner_count = models.PositiveIntegerField(default=0, null=True, blank=True)
    speeding_s = models.FloatField(default=0)
    phone_use_s = models.FloatField(default=0)
    night_s = models.FloatField(default=0)
    rush_hour_s = models.FloatField(default=0)
    highway_s = models.FloatField(default=0)
    gap_s = models.FloatField(default=0, help_text="Time inside gaps between fixes (neither moving nor idle).")
    speeding_count = models.PositiveIntegerField(default=0)
    sampling_interval_s = models.FloatField(null=True, blank=True, help_text="Median spacing of the trip's fixes.")
    measurable = models.JSONField(
        default=dict, blank=True, help_text="Which event features the trip's sampling supports (name -> bool)."
    )
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Events with time, place and magnitude.")
    score_deductions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["driver", "started_at"], name="trip_driver_start_idx"),
            models.Index(fields=["vehicle", "started_at"], name="trip_vehicle_start_idx"),
            # The trips whose features are still to be computed (trip_features_compute_pending).
            models.Index(fields=["id"], condition=Q(feature_status="pending"), name="trip_features_pending_idx"),
            # The trips in progress (the live map's, detection's stale check): a handful of rows.
            models.Index(fields=["device", "started_at"], condition=Q(in_progress=True), name="trip_in_progress_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "external_id"],
                name="%(app_label)s_%(class)s_unique_device_trip",
                violation_error_message="This device uploaded this trip already.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__gte=F("started_at")), name="%(app_label)s_%(class)s_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(distance_km__gte=0, duration_s__gte=0, moving_s__gte=0, idle_s__gte=0),
                name="%(app_label)s_%(class)s_measures_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=100), name="%(app_label)s_%(class)s_score_range"
            ),
            models.CheckConstraint(
                condition=Q(feature_status__in=["pending", "done", "failed"]),
                name="%(app_label)s_%(class)s_feature_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(source__in=["upload", "positions"]), name="%(app_label)s_%(class)s_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(in_progress=False) | Q(source="positions"),
                name="%(app_label)s_%(class)s_only_detected_trips_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"Trip {self.pk} ({self.external_id})"


class DriverFeatures(models.Model):
    """Rolling aggregates of one driver's trips over `window_days` up to `as_of`."""

    driver = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="feature_rows")
    as_of = models.DateField()
    window_days = models.PositiveSmallIntegerField(default=90)
    trips = models.PositiveIntegerField(default=0)
    km = models.FloatField(default=0)
    hours = models.FloatField(default=0)
    # NULL: none of the window's trips could measure it (missing, not zero, for the risk model).
    harsh_brake_per_100km = models.FloatField(default=0, null=True, blank=True)
    harsh_accel_per_100km = models.FloatField(default=0, null=True, blank=True)
    harsh_corner_per_100km = models.FloatField(default=0, null=True, blank=True)
    speeding_share = models.FloatField(default=0)
    night_share = models.FloatField(default=0)
    rush_hour_share = models.FloatField(default=0)
    highway_share = models.FloatField(default=0)
    phone_use_per_hour = models.FloatField(default=0, help_text="Seconds of phone use per hour of driving.")
    mean_trip_score = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-as_of", "driver"]
        verbose_name_plural = "driver features"
        indexes = [models.Index(fields=["as_of", "window_days"], name="driverfeat_asof_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "as_of", "window_days"], name="%(app_label)s_%(class)s_unique_driver_day"
            ),
            models.CheckConstraint(
                condition=Q(km__gte=0, hours__gte=0)
                & Q(speeding_share__gte=0, speeding_share__lte=1)
                & Q(night_share__gte=0, night_share__lte=1)
                & Q(highway_share__gte=0, highway_share__lte=1),
                name="%(app_label)s_%(class)s_values_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} as of {self.as_of}"


class TelematicsSample(models.Model):
    """One 1 Hz fix of a trip. The table is range-partitioned by month on `recorded_at`
    (migration 0002); PostgreSQL needs the partition key in the primary key, so the key is
    (trip, recorded_at). Rows are written by binary COPY only (apps.telematics.ingest).

    No database foreign key to the trip: a per-row referential check would cost the bulk load
    a large share of its speed; samples are only ever written with their trip, in the same
    transaction, and trips are never deleted (claims and features refer to them)."""

    pk = models.CompositePrimaryKey("trip_id", "recorded_at")
    trip = models.ForeignKey(Trip, on_delete=models.DO_NOTHING, db_constraint=False, related_name="samples")
    recorded_at = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    speed_mps = models.FloatField()
    accel_lon_mps2 = models.FloatField(help_text="Longitudinal acceleration, negative when braking.")
    accel_lat_mps2 = models.FloatField(help_text="Lateral acceleration.")
    heading_deg = models.FloatField(null=True, blank=True)
    speed_limit_mps = models.FloatField(null=True, blank=True)
    phone_use = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["trip", "recorded_at"]

    def __str__(self) -> str:
        return f"{self.trip_id}@{self.recorded_at.isoformat()}"


class Badge(models.Model):
    """A reward a driver earned from real trips; the rules are `apps.telematics.rewards.RULES`.
    Earned once per driver and rule, and kept: a later bad trip does not take it away."""

    driver = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="badges")
    code = models.CharField(max_length=32)
    earned_at = models.DateTimeField()
    trip = models.ForeignKey(Trip, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-earned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "code"],
                name="%(app_label)s_%(class)s_once_per_driver",
                violation_error_message="This driver has this badge already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.driver_id})"


class Position(models.Model):
    """One position a tracker streamed (OsmAnd protocol, the gateway batch, a CSV import).

    Beside the samples rather than in them: a sample belongs to a trip and carries accelerometer
    values, while a position arrives before any trip exists, from a device that has no
    accelerometer, and is unique per (device, time). Range-partitioned by month on
    `recorded_at` (migration 0006); the first position received for an instant wins (inserts
    do nothing on conflict). Trip detection copies a detected trip's positions into the samples,
    so trips cut from streams go through the same feature path as uploaded ones."""

    pk = models.CompositePrimaryKey("device_id", "recorded_at")
    device = models.ForeignKey(Device, on_delete=models.DO_NOTHING, db_constraint=False, related_name="positions")
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField(db_default=models.functions.Now())
    latitude = models.FloatField()
    longitude = models.FloatField()
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    altitude_m = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    battery_pct = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["device", "recorded_at"]

    def __str__(self) -> str:
        return f"{self.device_id}@{self.recorded_at.isoformat()}"


class PositionCursor(models.Model):
    """Where trip detection stands for one device: `dirty_from` is the earliest time of the
    positions stored since the last detection (NULL when there is nothing new), and `version`
    counts the stores, so a detection run clears the mark only when nothing arrived meanwhile."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, primary_key=True, related_name="position_cursor")
    dirty_from = models.DateTimeField(null=True, blank=True)
    version = models.BigIntegerField(default=0)
    detected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["device"], condition=Q(dirty_from__isnull=False), name="poscursor_dirty_idx"),
        ]

    def __str__(self) -> str:
        return f"cursor of {self.device_id}"


class PositionRejection(models.Model):
    """Positions a device sent that the OsmAnd endpoint answered 200 but will never store (older
    than the late window, ahead of the clock, refused by cleaning): a Traccar Client would retry
    a refused position forever (apps.telematics.positions.rejections). One row per device and
    reason, counted; the last one's time and why. No coordinates: they are the driver's."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="position_rejections")
    reason = models.CharField(max_length=40)
    count = models.BigIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    last_recorded_at = models.DateTimeField(null=True, blank=True)  # the last rejected position's own time
    detail = models.CharField(max_length=200)

    class Meta:
        ordering = ["-last_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "reason"],
                name="%(app_label)s_%(class)s_device_reason",
                violation_error_message="This device has a row for this reason already.",
            ),
            models.CheckConstraint(condition=Q(count__gt=0), name="%(app_label)s_%(class)s_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.reason} x{self.count}"
