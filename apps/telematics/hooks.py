"""Follow-up points of the telematics app (see apps.common.hooks): receivers are connected in an
AppConfig.ready, so telematics' services import neither the apps above them nor their own tasks."""

from apps.common.hooks import Hook

# driver_ids=[...]: drivers with trips whose features were just computed, sent inside the
# computing transaction. Risk connects its rescoring requests.
trip_features_computed = Hook("telematics.trip_features_computed")
# No arguments: a task to compute the pending trips' features is wanted. telematics.tasks
# connects Celery.
trip_features_wanted = Hook("telematics.trip_features_wanted")
# No arguments: a task to run trip detection over the devices marked so far is wanted.
# telematics.tasks connects Celery.
trips_detect_wanted = Hook("telematics.trips_detect_wanted")
# No arguments: a task to store the positions buffered by the OsmAnd endpoint is wanted.
# telematics.tasks connects Celery.
positions_flush_wanted = Hook("telematics.positions_flush_wanted")
