-- Rolling driver features as of one day, for every driver at once (one statement).
-- Drivers: every customer with a trip in the window or a telematics consent in force.
-- Shares are of driving time (moving + idle, gaps excluded); rates are per 100 km driven.
-- Parameters: as_of, window_days, window_start (inclusive), window_end (exclusive), driver_ids
-- (NULL for every driver; a list for the event-driven refresh of a few drivers).
WITH trips AS (
    SELECT
        t.driver_id,
        count(*) AS trips,
        sum(t.distance_km) AS km,
        sum(t.moving_s + t.idle_s) AS driving_s,
        sum(t.moving_s) AS moving_s,
        -- harsh events per 100 km of the trips that could measure them (NULL counts are not
        -- zeros: a trip sampled too sparsely says nothing about them)
        sum(t.harsh_brake_count) AS harsh_brakes,
        sum(t.distance_km) FILTER (WHERE t.harsh_brake_count IS NOT NULL) AS harsh_brake_km,
        sum(t.harsh_accel_count) AS harsh_accels,
        sum(t.distance_km) FILTER (WHERE t.harsh_accel_count IS NOT NULL) AS harsh_accel_km,
        sum(t.harsh_corner_count) AS harsh_corners,
        sum(t.distance_km) FILTER (WHERE t.harsh_corner_count IS NOT NULL) AS harsh_corner_km,
        sum(t.speeding_s) AS speeding_s,
        sum(t.night_s) AS night_s,
        sum(t.rush_hour_s) AS rush_hour_s,
        sum(t.highway_s) AS highway_s,
        sum(t.phone_use_s) AS phone_use_s,
        avg(t.score) AS mean_score
    FROM telematics_trip t
    WHERE t.driver_id IS NOT NULL
      AND t.feature_status = 'done'
      AND t.started_at >= %(window_start)s
      AND t.started_at < %(window_end)s
      AND (%(driver_ids)s::bigint[] IS NULL OR t.driver_id = ANY(%(driver_ids)s::bigint[]))
    GROUP BY t.driver_id
),
drivers AS (
    SELECT driver_id FROM trips
    UNION
    SELECT customer_id FROM customers_telematicsconsent
    WHERE withdrawn_at IS NULL
      AND (%(driver_ids)s::bigint[] IS NULL OR customer_id = ANY(%(driver_ids)s::bigint[]))
)
INSERT INTO telematics_driverfeatures (
    driver_id, as_of, window_days, trips, km, hours,
    harsh_brake_per_100km, harsh_accel_per_100km, harsh_corner_per_100km,
    speeding_share, night_share, rush_hour_share, highway_share, phone_use_per_hour,
    mean_trip_score, computed_at
)
SELECT
    d.driver_id,
    %(as_of)s,
    %(window_days)s,
    coalesce(t.trips, 0),
    coalesce(t.km, 0),
    coalesce(t.driving_s, 0) / 3600.0,
    -- a driver with trips none of which measured it: missing; no trips at all: zero as before
    CASE WHEN t.harsh_brake_km IS NULL AND t.trips > 0 THEN NULL
         ELSE coalesce(100.0 * t.harsh_brakes / nullif(t.harsh_brake_km, 0), 0) END,
    CASE WHEN t.harsh_accel_km IS NULL AND t.trips > 0 THEN NULL
         ELSE coalesce(100.0 * t.harsh_accels / nullif(t.harsh_accel_km, 0), 0) END,
    CASE WHEN t.harsh_corner_km IS NULL AND t.trips > 0 THEN NULL
         ELSE coalesce(100.0 * t.harsh_corners / nullif(t.harsh_corner_km, 0), 0) END,
    least(coalesce(t.speeding_s / nullif(t.driving_s, 0), 0), 1),
    least(coalesce(t.night_s / nullif(t.driving_s, 0), 0), 1),
    least(coalesce(t.rush_hour_s / nullif(t.driving_s, 0), 0), 1),
    least(coalesce(t.highway_s / nullif(t.driving_s, 0), 0), 1),
    coalesce(t.phone_use_s / nullif(t.driving_s / 3600.0, 0), 0),
    t.mean_score,
    now()
FROM drivers d
LEFT JOIN trips t ON t.driver_id = d.driver_id
ON CONFLICT (driver_id, as_of, window_days) DO UPDATE SET
    trips = EXCLUDED.trips,
    km = EXCLUDED.km,
    hours = EXCLUDED.hours,
    harsh_brake_per_100km = EXCLUDED.harsh_brake_per_100km,
    harsh_accel_per_100km = EXCLUDED.harsh_accel_per_100km,
    harsh_corner_per_100km = EXCLUDED.harsh_corner_per_100km,
    speeding_share = EXCLUDED.speeding_share,
    night_share = EXCLUDED.night_share,
    rush_hour_share = EXCLUDED.rush_hour_share,
    highway_share = EXCLUDED.highway_share,
    phone_use_per_hour = EXCLUDED.phone_use_per_hour,
    mean_trip_score = EXCLUDED.mean_trip_score,
    computed_at = EXCLUDED.computed_at
