-- One MaintenanceForecast per vehicle for a day, from arrays of the predictions (one statement).
INSERT INTO fleet_maintenanceforecast AS f (
    vehicle_id, as_of, predicted_service_on, km_since_service, days_since_service, utilisation,
    idle_days, harsh_event_load, urgency, reason, created_at, updated_at)
SELECT v, %(as_of)s, p, k, d, round(u::numeric, 4), i, h, g, r, %(now)s, %(now)s
FROM unnest(%(vehicle)s::bigint[], %(predicted)s::date[], %(km)s::int[], %(days)s::int[],
            %(util)s::float8[], %(idle)s::int[], %(harsh)s::float8[], %(urgency)s::text[],
            %(reason)s::text[]) AS x(v, p, k, d, u, i, h, g, r)
ON CONFLICT (vehicle_id, as_of) DO UPDATE SET
    predicted_service_on = EXCLUDED.predicted_service_on, km_since_service = EXCLUDED.km_since_service,
    days_since_service = EXCLUDED.days_since_service, utilisation = EXCLUDED.utilisation,
    idle_days = EXCLUDED.idle_days, harsh_event_load = EXCLUDED.harsh_event_load,
    urgency = EXCLUDED.urgency, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at
