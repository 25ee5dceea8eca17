-- Per vehicle (not retired) over [%(since)s, %(until)s): utilisation, revenue of the rentals that
-- started in the window, incidents (claims on the vehicle + repairs) and harsh events per 100 km
-- of its trips; graded A (best fifth) to E by the mean of its percentile ranks (higher utilisation
-- and revenue better, fewer incidents and harsh events better; harsh events count only where the
-- vehicle has trips).
WITH vehicles AS (
    SELECT v.id, v.plate, v.make, v.model, v.home_store_id, s.code AS store_code,
           GREATEST(0.5, extract(epoch FROM (%(until)s::timestamptz - GREATEST(%(since)s::timestamptz,
               LEAST(%(until)s::timestamptz, COALESCE(v.acquired_on::timestamptz, v.created_at))))) / 86400) AS fleet_days
    FROM fleet_vehicle v JOIN regions_store s ON s.id = v.home_store_id
    WHERE v.status <> 'retired'
),
use AS (
    SELECT vehicle_id,
           sum(extract(epoch FROM (LEAST(COALESCE(returned_at, %(until)s), %(until)s) - GREATEST(rented_at, %(since)s))))
               / 86400 AS days_on_rent,
           sum(total_amount) FILTER (WHERE rented_at >= %(since)s) AS revenue,
           count(*) FILTER (WHERE rented_at >= %(since)s) AS rentals
    FROM transactions_rental
    WHERE status IN ('active', 'completed') AND rented_at < %(until)s AND COALESCE(returned_at, %(until)s) > %(since)s
    GROUP BY vehicle_id
),
claims AS (
    SELECT vehicle_id, count(*) AS claims FROM risk_claim
    WHERE vehicle_id IS NOT NULL AND occurred_at >= %(since)s AND occurred_at < %(until)s GROUP BY vehicle_id
),
repairs AS (
    SELECT vehicle_id, count(*) AS repairs FROM fleet_maintenancerecord
    WHERE kind = 'repair' AND performed_on >= %(since)s::date AND performed_on < %(until)s::date GROUP BY vehicle_id
),
trips AS (
    SELECT vehicle_id, sum(distance_km) AS km,
           sum(harsh_brake_count + harsh_accel_count + harsh_corner_count) AS harsh_events
    FROM telematics_trip
    WHERE vehicle_id IS NOT NULL AND started_at >= %(since)s AND started_at < %(until)s GROUP BY vehicle_id
),
measured AS (
    SELECT v.id AS vehicle_id, v.plate, v.make, v.model, v.store_code,
           round(LEAST(1.0, COALESCE(u.days_on_rent, 0) / v.fleet_days)::numeric, 4) AS utilisation,
           COALESCE(u.rentals, 0) AS rentals,
           COALESCE(u.revenue, 0) AS revenue,
           COALESCE(c.claims, 0) + COALESCE(r.repairs, 0) AS incidents,
           round(COALESCE(t.km, 0)::numeric, 1) AS trip_km,
           CASE WHEN t.km > 0 THEN round((100.0 * t.harsh_events / t.km)::numeric, 2) END AS harsh_per_100km
    FROM vehicles v
    LEFT JOIN use u ON u.vehicle_id = v.id
    LEFT JOIN claims c ON c.vehicle_id = v.id
    LEFT JOIN repairs r ON r.vehicle_id = v.id
    LEFT JOIN trips t ON t.vehicle_id = v.id
),
ranked AS (
    SELECT m.*,
           percent_rank() OVER (ORDER BY utilisation) AS p_utilisation,
           percent_rank() OVER (ORDER BY revenue) AS p_revenue,
           1 - percent_rank() OVER (ORDER BY incidents) AS p_incidents,
           CASE WHEN harsh_per_100km IS NOT NULL THEN 1 - percent_rank() OVER (
               PARTITION BY harsh_per_100km IS NULL ORDER BY harsh_per_100km) END AS p_harsh
    FROM measured m
),
scored AS (
    SELECT r.*, round(((p_utilisation + p_revenue + p_incidents + COALESCE(p_harsh, 0))
                       / (3 + (p_harsh IS NOT NULL)::int) * 100)::numeric, 1) AS performance_score
    FROM ranked r
)
SELECT vehicle_id, plate, make, model, store_code, utilisation, rentals, revenue, incidents, trip_km,
       harsh_per_100km, performance_score,
       (ARRAY['A', 'B', 'C', 'D', 'E'])[ntile(5) OVER (ORDER BY performance_score DESC, vehicle_id)] AS grade
FROM scored
ORDER BY performance_score DESC, vehicle_id
