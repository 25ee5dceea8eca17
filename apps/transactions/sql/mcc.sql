-- The delivery's merchant category codes: codes missing from the ISO 18245 list are added with
-- the file's description; the official description of a known code is kept.

-- @statement parse
CREATE UNLOGGED TABLE {parsed} AS
SELECT s.line_no, s.raw_line, s.code, left(btrim(s.description), 255) AS description,
       CASE
           WHEN s.code !~ '^[0-9]{{4}}$' THEN 'bad_value'
           WHEN coalesce(btrim(s.description), '') = '' THEN 'bad_value'
           WHEN s.line_no > min(s.line_no) OVER (PARTITION BY s.code) THEN 'duplicate_in_file'
       END AS reason,
       CASE
           WHEN s.code !~ '^[0-9]{{4}}$' THEN 'code ' || coalesce(s.code, '(empty)') || ' is not four digits'
           WHEN coalesce(btrim(s.description), '') = '' THEN 'code ' || s.code || ' has no description'
           ELSE 'code ' || s.code || ' appears more than once'
       END AS detail
FROM {staging} s;

-- @statement upsert
INSERT INTO transactions_merchantcategory (code, description, source)
SELECT code, description, 'file' FROM {parsed} WHERE reason IS NULL
ON CONFLICT (code) DO NOTHING;

-- @statement reject
INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line)
SELECT %(run_id)s, %(file_name)s, line_no, reason, transactions_mask_pan(detail), transactions_mask_pan(raw_line)
FROM {parsed}
WHERE reason IS NOT NULL;
