-- Per vehicle (not retired): its last service, kilometres and days since, the service interval,
-- kilometres per day and utilisation over the last %(window_days)s days (from rentals' odometer
-- readings, else from telematics trips), idle days since its last return, and its harsh-event
-- load (harsh brakes + accelerations + corners per 100 km of trips) when trips exist.
WITH vehicles AS (
    SELECT v.id, v.plate, v.status, v.odometer_km, v.home_store_id,
           LEAST(%(until)s::timestamptz, COALESCE(v.acquired_on::timestamptz, v.created_at)) AS in_fleet_since
    FROM fleet_vehicle v WHERE v.status <> 'retired'
),
rental_use AS (
    SELECT vehicle_id,
           sum(GREATEST(odometer_in_km - odometer_out_km, 0))
               FILTER (WHERE status = 'completed' AND returned_at >= %(since)s) AS rental_km,
           sum(extract(epoch FROM (LEAST(COALESCE(returned_at, %(until)s), %(until)s) - GREATEST(rented_at, %(since)s))))
               / 86400 AS days_on_rent
    FROM transactions_rental
    WHERE status IN ('active', 'completed') AND rented_at < %(until)s AND COALESCE(returned_at, %(until)s) > %(since)s
    GROUP BY vehicle_id
),
trip_use AS (
    SELECT vehicle_id, sum(distance_km) AS trip_km,
           sum(harsh_brake_count + harsh_accel_count + harsh_corner_count) AS harsh_events
    FROM telematics_trip
    WHERE vehicle_id IS NOT NULL AND started_at >= %(since)s AND started_at < %(until)s
    GROUP BY vehicle_id
)
SELECT v.id AS vehicle_id, v.plate, v.status, v.odometer_km, v.home_store_id,
       s.performed_on AS last_service_on, s.odometer_km AS last_service_km, s.next_due_on, s.next_due_km,
       GREATEST(v.odometer_km - COALESCE(s.odometer_km, 0), 0) AS km_since_service,
       (%(as_of)s::date - COALESCE(s.performed_on, v.in_fleet_since::date)) AS days_since_service,
       COALESCE(s.performed_on, v.in_fleet_since::date) AS counted_from,
       COALESCE(ru.rental_km, 0) AS rental_km, COALESCE(t.trip_km, 0) AS trip_km,
       LEAST(1.0, COALESCE(ru.days_on_rent, 0) / GREATEST(0.5, extract(epoch FROM (
           %(until)s::timestamptz - GREATEST(%(since)s::timestamptz, v.in_fleet_since))) / 86400)) AS utilisation,
       CASE WHEN last.rented_at IS NULL
                THEN floor(extract(epoch FROM (%(until)s::timestamptz - v.in_fleet_since)) / 86400)
            WHEN last.returned_at IS NULL OR last.returned_at >= %(until)s THEN 0
            ELSE floor(extract(epoch FROM (%(until)s::timestamptz - last.returned_at)) / 86400)
       END::int AS idle_days,
       CASE WHEN t.trip_km >= %(min_trip_km)s THEN 100.0 * t.harsh_events / t.trip_km END AS harsh_per_100km
FROM vehicles v
LEFT JOIN rental_use ru ON ru.vehicle_id = v.id
LEFT JOIN trip_use t ON t.vehicle_id = v.id
LEFT JOIN LATERAL (
    SELECT m.performed_on, m.odometer_km, m.next_due_on, m.next_due_km FROM fleet_maintenancerecord m
    WHERE m.vehicle_id = v.id AND m.kind = 'service' AND m.performed_on <= %(as_of)s
    ORDER BY m.performed_on DESC, m.id DESC LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT r.rented_at, r.returned_at FROM transactions_rental r
    WHERE r.vehicle_id = v.id AND r.rented_at < %(until)s AND r.status IN ('active', 'completed')
    ORDER BY r.rented_at DESC LIMIT 1
) last ON true
ORDER BY v.id
