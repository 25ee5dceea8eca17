-- Per vehicle (not retired) over the window [%(since)s, %(until)s): the actual daily rate of its
-- completed rentals (net of discounts, per booked day) vs its list price, days on rent and
-- utilisation of the days it was in the fleet, idle days since its last return, and the median
-- utilisation of its peers (same category, same region).
WITH vehicles AS (
    SELECT v.id, v.plate, v.make, v.model, v.category_id, v.home_store_id, s.region_id,
           v.price_per_day AS list_rate, v.status,
           LEAST(%(until)s::timestamptz, COALESCE(v.acquired_on::timestamptz, v.created_at)) AS in_fleet_since,
           GREATEST(0.5, extract(epoch FROM (
               %(until)s::timestamptz - GREATEST(%(since)s::timestamptz, COALESCE(v.acquired_on::timestamptz, %(since)s))
           )) / 86400) AS fleet_days
    FROM fleet_vehicle v JOIN regions_store s ON s.id = v.home_store_id
    WHERE v.status <> 'retired'
),
completed AS (
    SELECT vehicle_id, count(*) AS rentals,
           sum(rental_amount - discount_amount) AS net_revenue,
           -- charged per booked day: a late return's extra hours are not another day at the rate
           sum(GREATEST(1, round(extract(epoch FROM (due_at - rented_at)) / 86400))) AS paid_days
    FROM transactions_rental
    WHERE status = 'completed' AND returned_at >= %(since)s AND returned_at < %(until)s
    GROUP BY vehicle_id
),
on_rent AS (
    SELECT vehicle_id,
           sum(extract(epoch FROM (LEAST(COALESCE(returned_at, %(until)s), %(until)s) - GREATEST(rented_at, %(since)s))))
               / 86400 AS days_on_rent
    FROM transactions_rental
    WHERE status IN ('active', 'completed') AND rented_at < %(until)s
      AND COALESCE(returned_at, %(until)s) > %(since)s
    GROUP BY vehicle_id
),
measured AS (
    SELECT v.*, COALESCE(c.rentals, 0) AS rentals, COALESCE(c.net_revenue, 0) AS net_revenue,
           CASE WHEN c.paid_days > 0 THEN c.net_revenue / c.paid_days END AS actual_rate,
           COALESCE(o.days_on_rent, 0) AS days_on_rent,
           LEAST(1.0, COALESCE(o.days_on_rent, 0) / v.fleet_days) AS utilisation,
           CASE WHEN last.rented_at IS NULL
                    THEN floor(extract(epoch FROM (%(until)s::timestamptz - v.in_fleet_since)) / 86400)
                WHEN last.returned_at IS NULL OR last.returned_at >= %(until)s THEN 0
                ELSE floor(extract(epoch FROM (%(until)s::timestamptz - last.returned_at)) / 86400)
           END AS idle_days
    FROM vehicles v
    LEFT JOIN completed c ON c.vehicle_id = v.id
    LEFT JOIN on_rent o ON o.vehicle_id = v.id
    LEFT JOIN LATERAL (  -- its newest rental started before the end of the window (an index scan)
        SELECT r.rented_at, r.returned_at FROM transactions_rental r
        WHERE r.vehicle_id = v.id AND r.rented_at < %(until)s AND r.status IN ('active', 'completed')
        ORDER BY r.rented_at DESC LIMIT 1
    ) last ON true
),
peers AS (
    SELECT category_id, region_id, count(*) AS vehicles,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY utilisation) AS peer_utilisation
    FROM measured GROUP BY category_id, region_id
)
SELECT m.id AS vehicle_id, m.plate, m.make, m.model, m.status, m.home_store_id, m.category_id,
       m.list_rate, round(m.actual_rate, 2) AS actual_rate, m.rentals, round(m.net_revenue, 2) AS net_revenue,
       round(m.days_on_rent::numeric, 1) AS days_on_rent, round(m.fleet_days::numeric, 1) AS fleet_days,
       round(m.utilisation::numeric, 4) AS utilisation, m.idle_days::int AS idle_days,
       p.vehicles AS peer_vehicles, round(p.peer_utilisation::numeric, 4) AS peer_utilisation
FROM measured m JOIN peers p ON p.category_id = m.category_id AND p.region_id = m.region_id
ORDER BY m.id
