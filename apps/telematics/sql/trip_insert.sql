-- One round trip for everything an upload decides before its COPY (apps.telematics.services):
-- the device still active, the trip stored before (by device and external id), the vehicle and
-- driver named in the upload, the vehicle's rental at the trip's start, the driver's consent, and
-- the insert of the trip row itself, made only when every check passes. The unique constraint
-- settles concurrent uploads of one trip: the loser's insert waits for the winner and then does
-- nothing, and the service reads the winner's row. Every parameter is cast: the statement is
-- prepared once per connection (server-side binding), so its plan is not rebuilt per upload.

-- @statement trip_insert
WITH dev AS (
    SELECT id, customer_id, vehicle_id
    FROM telematics_device
    WHERE id = %(device)s::bigint AND is_active AND revoked_at IS NULL
),
existing AS (
    SELECT id, samples_received, samples_stored, samples_dropped, feature_status
    FROM telematics_trip
    WHERE device_id = %(device)s::bigint AND external_id = %(external_id)s::text
),
rental AS (
    SELECT r.id, r.customer_id
    FROM transactions_rental r
    WHERE r.vehicle_id = COALESCE(%(vehicle)s::bigint, (SELECT vehicle_id FROM dev))
      AND r.rented_at <= %(started_at)s::timestamptz
      AND (r.returned_at IS NULL OR r.returned_at >= %(started_at)s::timestamptz)
    ORDER BY r.rented_at DESC
    LIMIT 1
),
resolved AS (
    SELECT
        dev.id AS device_id,
        COALESCE(%(vehicle)s::bigint, dev.vehicle_id) AS vehicle_id,
        COALESCE(%(driver)s::bigint, dev.customer_id, rental.customer_id) AS driver_id,
        rental.id AS rental_id,
        rental.customer_id AS rental_customer_id
    FROM dev
    LEFT JOIN rental ON true
),
checked AS (
    SELECT
        resolved.device_id,
        resolved.vehicle_id,
        resolved.driver_id,
        -- the rental is linked only when it is the trip's driver's
        CASE WHEN resolved.driver_id = resolved.rental_customer_id THEN resolved.rental_id END AS rental_id,
        (%(vehicle)s::bigint IS NULL
            OR EXISTS (SELECT 1 FROM fleet_vehicle WHERE id = %(vehicle)s::bigint)) AS vehicle_found,
        (%(driver)s::bigint IS NULL
            OR EXISTS (SELECT 1 FROM customers_customer WHERE id = %(driver)s::bigint)) AS driver_found,
        c.total AS consents,
        c.in_force AS consents_in_force
    FROM resolved
    LEFT JOIN LATERAL (
        SELECT count(*) AS total, count(*) FILTER (WHERE withdrawn_at IS NULL) AS in_force
        FROM customers_telematicsconsent
        WHERE customer_id = resolved.driver_id
    ) AS c ON true
),
inserted AS (
    INSERT INTO telematics_trip (
        created_at, updated_at, device_id, external_id, driver_id, vehicle_id, rental_id, started_at, ended_at,
        samples_received, samples_stored, samples_dropped, feature_status, distance_km, duration_s, moving_s,
        idle_s, gap_s, max_speed_mps, mean_speed_mps, harsh_brake_count, harsh_accel_count, harsh_corner_count,
        speeding_count, speeding_s, phone_use_s, night_s, rush_hour_s, highway_s, events, score_deductions,
        measurable
    )
    SELECT
        now(), now(), device_id, %(external_id)s::text, driver_id, vehicle_id, rental_id,
        %(started_at)s::timestamptz, %(ended_at)s::timestamptz,
        %(received)s::integer, %(stored)s::integer, %(dropped)s::jsonb, 'pending', 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb
    FROM checked
    WHERE NOT EXISTS (SELECT 1 FROM existing)
      AND vehicle_found
      AND driver_found
      AND (driver_id IS NULL OR consents_in_force > 0)
    ON CONFLICT ON CONSTRAINT telematics_trip_unique_device_trip DO NOTHING
    RETURNING id
)
SELECT
    checked.device_id IS NOT NULL AS device_ok,
    (SELECT id FROM inserted) AS trip_id,
    existing.id AS existing_id,
    existing.samples_received,
    existing.samples_stored,
    existing.samples_dropped,
    existing.feature_status,
    checked.vehicle_found,
    checked.driver_found,
    checked.driver_id,
    checked.consents,
    checked.consents_in_force
FROM (SELECT 1) AS one
LEFT JOIN checked ON true
LEFT JOIN existing ON true
