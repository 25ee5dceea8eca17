"""Follow-up points of the risk app (see apps.common.hooks): receivers are connected in an
AppConfig.ready, so risk's services import neither the apps above them nor their own tasks."""

from apps.common.hooks import Hook

# driver_id, countdown (seconds): a driver to rescore later. risk.tasks connects Celery.
rescore_wanted = Hook("risk.rescore_wanted")
# driver_ids=[...]: new scores committed for these drivers (band or score changed). Pricing
# connects its follow-ups (stale caches, partners told, requotes).
scores_changed = Hook("risk.scores_changed")
