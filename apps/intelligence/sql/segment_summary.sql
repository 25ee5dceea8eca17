-- Customers, spend and averages per RFM segment over the subquery of rfm.sql.
SELECT segment, count(*) AS customers, sum(monetary) AS spend,
       round(avg(frequency)::numeric, 2) AS avg_rentals,
       round(avg(recency_days)::numeric, 1) AS avg_recency_days
FROM ({rfm}) rfm GROUP BY segment
