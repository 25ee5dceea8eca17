"""Follow-up points of the jobs app (see apps.common.hooks): receivers are connected in
JobsConfig.ready, so jobs' services never import the task that imports them."""

from apps.common.hooks import Hook

# run_id, queue: a queued run to hand to a worker. jobs.tasks connects Celery.
run_queued = Hook("jobs.run_queued")
