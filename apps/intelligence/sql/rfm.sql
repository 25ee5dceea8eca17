-- RFM of every customer with a started rental in [%(rfm_since)s, %(rfm_until)s): recency,
-- frequency and spend, each scored 1..5 by percent rank (ties share the lower score, so the many
-- one-rental customers all get F=1), and a named segment from R and F.
SELECT customer_id, last_rental_at, recency_days, frequency, monetary, r_score, f_score, m_score,
       CASE
           WHEN r_score >= 4 AND f_score >= 4 THEN 'champions'
           WHEN r_score >= 3 AND f_score >= 3 THEN 'loyal'
           WHEN r_score >= 4 THEN 'promising'
           WHEN r_score <= 2 AND f_score >= 3 THEN 'at_risk'
           WHEN r_score <= 2 THEN 'hibernating'
           ELSE 'needs_attention'
       END AS segment
FROM (
    SELECT customer_id, last_rental_at, frequency, monetary,
           round((extract(epoch FROM (%(rfm_until)s::timestamptz - last_rental_at)) / 86400)::numeric, 1)
               AS recency_days,
           LEAST(5, 1 + floor(5 * percent_rank() OVER (ORDER BY last_rental_at)))::int AS r_score,
           LEAST(5, 1 + floor(5 * percent_rank() OVER (ORDER BY frequency)))::int AS f_score,
           LEAST(5, 1 + floor(5 * percent_rank() OVER (ORDER BY monetary)))::int AS m_score
    FROM (
        SELECT customer_id, max(rented_at) AS last_rental_at, count(*) AS frequency, sum(total_amount) AS monetary
        FROM transactions_rental
        WHERE status IN ('active', 'completed')
          AND rented_at >= %(rfm_since)s AND rented_at < %(rfm_until)s
        GROUP BY customer_id
    ) base
) scored
