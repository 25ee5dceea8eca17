-- The demand forecast's reads (apps.intelligence.demand_forecast).

-- @statement daily_starts
-- Rentals started per active store and local day in [first_day, last_day] (days without one are
-- missing; the caller fills zeros).
WITH stores AS (
    SELECT s.id, g.timezone AS tz FROM regions_store s JOIN regions_region g ON g.id = s.region_id
    WHERE s.is_active
),
counts AS (
    SELECT r.pickup_store_id AS store_id, (r.rented_at AT TIME ZONE st.tz)::date AS day, count(*) AS n
    FROM transactions_rental r JOIN stores st ON st.id = r.pickup_store_id
    WHERE r.status <> 'cancelled'
      AND r.rented_at >= (%(first_day)s::date - 1)::timestamptz
      AND r.rented_at < (%(last_day)s::date + 2)::timestamptz
    GROUP BY 1, 2
)
SELECT store_id, day, n FROM counts WHERE day BETWEEN %(first_day)s AND %(last_day)s;

-- @statement fleet_and_duration
-- Per active store: vehicles available to rent (home fleet, available or rented) and the mean
-- rental length in days of its completed rentals in [since, until).
SELECT s.id,
       (SELECT count(*) FROM fleet_vehicle v
        WHERE v.home_store_id = s.id AND v.status IN ('available', 'rented')) AS fleet,
       (SELECT avg(extract(epoch FROM (r.returned_at - r.rented_at)) / 86400)
        FROM transactions_rental r
        WHERE r.pickup_store_id = s.id AND r.status = 'completed'
          AND r.rented_at >= %(since)s AND r.rented_at < %(until)s) AS mean_days
FROM regions_store s WHERE s.is_active;
