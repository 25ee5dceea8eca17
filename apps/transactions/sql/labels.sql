-- Fraud labels. "prepare" runs before the transactions files, so their transform can set
-- is_fraud while inserting (and note which labels it wrote); "apply" runs after them: labels of
-- payments loaded earlier are updated, labels of no known payment are rejected. The reader has checked that every staged
-- id is digits and every label Yes or No (bad entries arrive as placeholders marked in label).

-- @statement prepare
CREATE UNLOGGED TABLE {parsed} AS
SELECT s.line_no,
       s.id::bigint AS id,
       s.label = 'Yes' AS is_fraud,
       CASE WHEN s.label = %(marker)s THEN 'pre' WHEN d.line_no IS NOT NULL THEN 'duplicate_in_file' END AS reason,
       d.first_line
FROM {staging} s
LEFT JOIN {dupes} d ON d.line_no = s.line_no;

-- @statement unhit
-- The valid labels the transactions load did not already write with their payment: labels of
-- payments loaded by earlier runs (or by this run twice), and labels of no payment at all.
CREATE UNLOGGED TABLE {unhit} AS
SELECT l.line_no, l.id, l.is_fraud
FROM {parsed} l
WHERE l.reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM {hits} h WHERE h.id = l.id);

-- @statement match
CREATE UNLOGGED TABLE {matched} AS
SELECT l.line_no, l.id, l.is_fraud, p.paid_at, p.is_fraud AS current_is_fraud, p.ingest_run_id
FROM {unhit} l
LEFT JOIN transactions_payment p ON p.id = l.id;

-- @statement apply
UPDATE transactions_payment p
SET is_fraud = m.is_fraud
FROM (SELECT id, paid_at, is_fraud FROM {matched}
      WHERE paid_at IS NOT NULL AND current_is_fraud IS DISTINCT FROM is_fraud) m
WHERE p.id = m.id AND p.paid_at = m.paid_at;

-- @statement counts
-- Labels written by the load count as loaded (their payment is this run's, labelled as said).
SELECT (SELECT count(*) FROM {parsed} WHERE reason IS NULL) - (SELECT count(*) FROM {unhit})
       + count(*) FILTER (WHERE paid_at IS NOT NULL
                            AND (ingest_run_id = %(run_id)s OR current_is_fraud IS DISTINCT FROM is_fraud)) AS loaded,
       count(*) FILTER (WHERE paid_at IS NOT NULL
                          AND ingest_run_id IS DISTINCT FROM %(run_id)s
                          AND current_is_fraud IS NOT DISTINCT FROM is_fraud) AS duplicate
FROM {matched};

-- @statement reject
INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line)
SELECT %(run_id)s, %(file_name)s, m.line_no, 'unknown_transaction',
       transactions_mask_pan('no payment with transaction id ' || m.id || ' has been loaded'),
       transactions_mask_pan('"' || m.id || '": "' || CASE WHEN m.is_fraud THEN 'Yes' ELSE 'No' END || '"')
FROM {matched} m
WHERE m.paid_at IS NULL
UNION ALL
SELECT %(run_id)s, %(file_name)s, l.line_no, 'duplicate_in_file',
       transactions_mask_pan('transaction id ' || l.id || ' is already labelled at entry ' || l.first_line),
       transactions_mask_pan('"' || l.id || '": "' || CASE WHEN l.is_fraud THEN 'Yes' ELSE 'No' END || '"')
FROM {parsed} l
WHERE l.reason = 'duplicate_in_file';
