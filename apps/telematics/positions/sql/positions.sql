Statements of the positions store (apps.telematics.positions.services).

-- @statement devices
-- Per device of a request: still active, its driver (the device's customer, else the customer
-- renting its vehicle at the request's last position), and that driver's consents, as the
-- trip upload resolves them (apps/telematics/sql/trip_insert.sql).
SELECT
    d.id,
    (d.is_active AND d.revoked_at IS NULL) AS active,
    COALESCE(d.customer_id, r.customer_id) AS driver_id,
    c.total,
    c.in_force
FROM unnest(%(devices)s::bigint[], %(last_at)s::timestamptz[]) AS q(device_id, last_at)
JOIN telematics_device d ON d.id = q.device_id
LEFT JOIN LATERAL (
    SELECT rental.customer_id
    FROM transactions_rental rental
    WHERE d.customer_id IS NULL
      AND rental.vehicle_id = d.vehicle_id
      AND rental.rented_at <= q.last_at
      AND (rental.returned_at IS NULL OR rental.returned_at >= q.last_at)
    ORDER BY rental.rented_at DESC
    LIMIT 1
) r ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS total, count(*) FILTER (WHERE withdrawn_at IS NULL) AS in_force
    FROM customers_telematicsconsent
    WHERE customer_id = COALESCE(d.customer_id, r.customer_id)
) c ON true

-- @statement insert
-- The first position received for a (device, instant) wins: later ones do nothing. Times come
-- as µs since the epoch, unknown measures as NaN (stored NULL).
INSERT INTO telematics_position (
    device_id, recorded_at, latitude, longitude, speed_mps, heading_deg, altitude_m, accuracy_m, battery_pct
)
SELECT
    device_id,
    'epoch'::timestamptz + t * interval '1 microsecond',
    lat,
    lon,
    NULLIF(speed, 'NaN'),
    NULLIF(heading, 'NaN'),
    NULLIF(altitude, 'NaN'),
    NULLIF(accuracy, 'NaN'),
    NULLIF(battery, 'NaN')
FROM unnest(
    %(device)s::bigint[], %(t)s::bigint[], %(lat)s::float8[], %(lon)s::float8[], %(speed)s::float4[],
    %(heading)s::float4[], %(altitude)s::float4[], %(accuracy)s::float4[], %(battery)s::float4[]
) AS v(device_id, t, lat, lon, speed, heading, altitude, accuracy, battery)
ON CONFLICT (device_id, recorded_at) DO NOTHING

-- @statement mark
-- Marks the devices for trip detection from their earliest new position on.
INSERT INTO telematics_positioncursor (device_id, dirty_from, version)
SELECT device_id, 'epoch'::timestamptz + t * interval '1 microsecond', 1
FROM unnest(%(devices)s::bigint[], %(first)s::bigint[]) AS v(device_id, t)
ON CONFLICT (device_id) DO UPDATE SET
    dirty_from = LEAST(telematics_positioncursor.dirty_from, EXCLUDED.dirty_from),
    version = telematics_positioncursor.version + 1

-- @statement latest
-- The last position of every vehicle with an active device (the newest of its devices'), and
-- the device's trip in progress. Per device one backward probe of the (device, time) key of the
-- month partitions, newest month first, stopping at the first hit: no scan of the positions.
SELECT DISTINCT ON (d.vehicle_id)
    d.vehicle_id,
    v.plate,
    v.make,
    v.model,
    d.id AS device_id,
    p.recorded_at,
    p.latitude,
    p.longitude,
    p.speed_mps,
    p.heading_deg,
    trip.id AS trip_id,
    trip.started_at AS trip_started_at
FROM telematics_device d
JOIN fleet_vehicle v ON v.id = d.vehicle_id
CROSS JOIN LATERAL (
    SELECT recorded_at, latitude, longitude, speed_mps, heading_deg
    FROM telematics_position
    WHERE device_id = d.id
    ORDER BY recorded_at DESC
    LIMIT 1
) p
LEFT JOIN LATERAL (
    SELECT id, started_at
    FROM telematics_trip
    WHERE device_id = d.id AND in_progress
    ORDER BY started_at DESC
    LIMIT 1
) trip ON true
WHERE d.is_active AND d.revoked_at IS NULL
ORDER BY d.vehicle_id, p.recorded_at DESC
