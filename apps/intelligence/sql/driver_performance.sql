-- Per driver (customer) with rentals or trips in [%(since)s, %(until)s): rentals and spend, late
-- returns, claims, and harsh events per 100 km with the mean trip score; graded A (best fifth)
-- to E by the mean of percentile ranks (more spend better; fewer late returns, claims and harsh
-- events better; harsh events count only for drivers with trips).
WITH rentals AS (
    SELECT customer_id, count(*) AS rentals, sum(total_amount) AS spend,
           count(*) FILTER (WHERE returned_at > due_at + interval '1 hour'
                               OR (returned_at IS NULL AND due_at < %(until)s)) AS late_returns
    FROM transactions_rental
    WHERE status IN ('active', 'completed') AND rented_at >= %(since)s AND rented_at < %(until)s
    GROUP BY customer_id
),
trips AS (
    SELECT driver_id AS customer_id, count(*) AS trips, sum(distance_km) AS km,
           sum(harsh_brake_count + harsh_accel_count + harsh_corner_count) AS harsh_events,
           avg(score) AS mean_trip_score
    FROM telematics_trip
    WHERE driver_id IS NOT NULL AND started_at >= %(since)s AND started_at < %(until)s
    GROUP BY driver_id
),
claims AS (
    SELECT driver_id AS customer_id, count(*) AS claims, sum(amount) AS claim_amount FROM risk_claim
    WHERE occurred_at >= %(since)s AND occurred_at < %(until)s GROUP BY driver_id
),
drivers AS (
    SELECT COALESCE(r.customer_id, t.customer_id) AS customer_id,
           COALESCE(r.rentals, 0) AS rentals, COALESCE(r.spend, 0) AS spend,
           COALESCE(r.late_returns, 0) AS late_returns,
           COALESCE(t.trips, 0) AS trips, round(COALESCE(t.km, 0)::numeric, 1) AS trip_km,
           CASE WHEN t.km > 0 THEN round((100.0 * t.harsh_events / t.km)::numeric, 2) END AS harsh_per_100km,
           round(t.mean_trip_score::numeric, 1) AS mean_trip_score
    FROM rentals r FULL JOIN trips t ON t.customer_id = r.customer_id
),
measured AS (
    SELECT d.*, c.first_name, c.last_name, COALESCE(cl.claims, 0) AS claims,
           COALESCE(cl.claim_amount, 0) AS claim_amount,
           CASE WHEN d.rentals > 0 THEN d.late_returns::float8 / d.rentals ELSE 0 END AS late_share
    FROM drivers d
    JOIN customers_customer c ON c.id = d.customer_id
    LEFT JOIN claims cl ON cl.customer_id = d.customer_id
),
ranked AS (
    SELECT m.*,
           percent_rank() OVER (ORDER BY spend) AS p_spend,
           1 - percent_rank() OVER (ORDER BY late_share) AS p_late,
           1 - percent_rank() OVER (ORDER BY claims) AS p_claims,
           CASE WHEN harsh_per_100km IS NOT NULL THEN 1 - percent_rank() OVER (
               PARTITION BY harsh_per_100km IS NULL ORDER BY harsh_per_100km) END AS p_harsh
    FROM measured m
),
scored AS (
    SELECT r.*, round(((p_spend + p_late + p_claims + COALESCE(p_harsh, 0))
                       / (3 + (p_harsh IS NOT NULL)::int) * 100)::numeric, 1) AS performance_score
    FROM ranked r
)
SELECT customer_id, first_name, last_name, rentals, spend, late_returns, claims, claim_amount, trips, trip_km,
       harsh_per_100km, mean_trip_score, performance_score,
       (ARRAY['A', 'B', 'C', 'D', 'E'])[ntile(5) OVER (ORDER BY performance_score DESC, customer_id)] AS grade
FROM scored
ORDER BY performance_score DESC, customer_id
