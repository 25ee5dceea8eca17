-- Payments, labelled payments, frauds and fraud loss by error reported with the payment ("none"
-- for payments without one; a payment with two errors counts under both), in the selector's
-- optional period on paid_at. (No braces in comments here: the text is a psycopg format string.)
SELECT coalesce(t.error, 'none') AS error,
       count(*) AS payments,
       count(*) FILTER (WHERE e.is_fraud IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE e.is_fraud) AS frauds,
       sum(e.amount) FILTER (WHERE e.is_fraud AND e.amount > 0) AS fraud_loss
FROM enriched_transactions e
LEFT JOIN LATERAL unnest(e.errors) AS t(error) ON true
{where}
GROUP BY 1
ORDER BY 1
