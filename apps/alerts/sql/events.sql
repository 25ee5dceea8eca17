-- The two set-based writes of apps.alerts.services. {table} is filled in with the events table's
-- name as an identifier; {{ and }} stand for literal braces.

-- @statement upsert
-- One statement: remember the live rows' severities, then insert or update on the partial unique
-- index. `xmax = 0` is true for a freshly inserted row, which tells "opened" from "updated".
WITH incoming AS (
    SELECT * FROM unnest(%(severity)s::text[], %(entity_type)s::text[], %(entity_id)s::text[],
                         %(title)s::text[], %(description)s::text[], %(metadata)s::jsonb[],
                         %(score)s::float8[])
        AS i(severity, entity_type, entity_id, title, description, metadata, score)
),
previous AS (
    SELECT e.id, e.severity FROM {table} e
    JOIN incoming i ON i.entity_type = e.entity_type AND i.entity_id = e.entity_id
    WHERE e.event_type = %(event_type)s AND e.status IN ('open', 'acknowledged')
),
suppressed AS (
    -- a recent dismissal silences the same finding unless it got worse
    SELECT DISTINCT i.entity_type, i.entity_id FROM incoming i
    JOIN {table} d ON d.event_type = %(event_type)s AND d.entity_type = i.entity_type
                   AND d.entity_id = i.entity_id AND d.status = 'dismissed'
                   AND d.closed_at >= %(suppress_since)s
    WHERE %(suppress)s
      AND array_position(ARRAY['low','medium','high','critical'], i.severity)
          <= array_position(ARRAY['low','medium','high','critical'], d.severity::text)
      AND NOT EXISTS (
          SELECT 1 FROM {table} l WHERE l.event_type = %(event_type)s AND l.entity_type = i.entity_type
             AND l.entity_id = i.entity_id AND l.status IN ('open', 'acknowledged'))
),
upserted AS (
    INSERT INTO {table} AS t (
        event_type, severity, status, entity_type, entity_id, title, description, metadata, score,
        occurrences, opened_at, last_seen_at, auto_resolved, note)
    SELECT %(event_type)s, i.severity, 'open', i.entity_type, i.entity_id, i.title, i.description,
           i.metadata || jsonb_build_object('sources', jsonb_build_object(%(source)s::text, %(now)s::text)),
           i.score, 1, %(now)s, %(now)s, false, ''
    FROM incoming i
    WHERE NOT EXISTS (SELECT 1 FROM suppressed s
                      WHERE s.entity_type = i.entity_type AND s.entity_id = i.entity_id)
    ON CONFLICT (event_type, entity_type, entity_id) WHERE status IN ('open', 'acknowledged')
    DO UPDATE SET
        severity = EXCLUDED.severity,
        title = EXCLUDED.title,
        description = EXCLUDED.description,
        score = EXCLUDED.score,
        metadata = (t.metadata || EXCLUDED.metadata)
            || jsonb_build_object('sources', COALESCE(t.metadata -> 'sources', '{{}}'::jsonb)
                                             || (EXCLUDED.metadata -> 'sources')),
        occurrences = t.occurrences + 1,
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING t.id, t.severity, t.title, t.entity_type, t.entity_id, (t.xmax = 0) AS inserted
)
SELECT u.id, u.severity, u.title, u.entity_type, u.entity_id, u.inserted, p.severity AS previous_severity
FROM upserted u LEFT JOIN previous p ON p.id = u.id;

-- @statement auto_resolve
-- Forget this source on live events it no longer finds; close those nobody finds any more.
WITH found AS (
    SELECT * FROM unnest(%(entity_type)s::text[], %(entity_id)s::text[]) AS f(entity_type, entity_id)
),
stale AS (
    SELECT e.id, (e.metadata -> 'sources') - %(source)s::text AS remaining FROM {table} e
    WHERE e.event_type = %(event_type)s AND e.status IN ('open', 'acknowledged')
      AND e.metadata -> 'sources' ? %(source)s::text
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.entity_type = e.entity_type AND f.entity_id = e.entity_id)
)
UPDATE {table} t SET
    metadata = jsonb_set(t.metadata, '{{sources}}', s.remaining),
    status = CASE WHEN s.remaining = '{{}}'::jsonb THEN 'resolved' ELSE t.status END,
    auto_resolved = (s.remaining = '{{}}'::jsonb),
    closed_at = CASE WHEN s.remaining = '{{}}'::jsonb THEN %(now)s ELSE t.closed_at END,
    note = CASE WHEN s.remaining = '{{}}'::jsonb
                THEN t.note || %(note)s ELSE t.note END
FROM stale s WHERE t.id = s.id
RETURNING t.id, t.status;
