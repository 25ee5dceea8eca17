-- In-file duplicates. The reader sends the ids that did not come in increasing order (in a
-- sorted delivery: only real repeats); each later occurrence of such an id is a duplicate of
-- the first one. {staging}.id is text already checked to be digits.

-- @statement duplicates
CREATE UNLOGGED TABLE {dupes} AS
SELECT line_no, first_line
FROM (
    SELECT s.line_no, min(s.line_no) OVER (PARTITION BY s.id::bigint) AS first_line
    FROM {staging} s
    WHERE s.id::bigint IN (SELECT c.id FROM {candidates} c)
) occurrences
WHERE line_no > first_line;
