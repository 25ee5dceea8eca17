"""What pricing tells the apps above it (apps.common.hooks): they connect receivers in their
AppConfig.ready, pricing never imports them. Every hook is sent inside the transaction that made
the change, so what a receiver writes commits or rolls back with it (requote_wanted aside)."""

from apps.common.hooks import Hook

# events=[(partner_id, data)]: policies bound, cancelled or repriced (data: _policy_event).
policies_updated = Hook("pricing.policies_updated")
# driver_ids=[...]: these drivers' latest scores changed, so whatever was derived from the old ones
# is stale; sent when the change is announced and again once its follow-ups are committed.
driver_scores_stale = Hook("pricing.driver_scores_stale")
# pairs=[(driver_id, partner_id)]: rescored drivers and the partners holding an active policy for them.
insured_drivers_rescored = Hook("pricing.insured_drivers_rescored")
# driver_ids=[...] (one chunk): requote these drivers' active policies later, sent once the
# rescoring's follow-ups are committed. pricing.tasks connects Celery in PricingConfig.ready, so
# services never import the task that imports them.
requote_wanted = Hook("pricing.requote_wanted")
