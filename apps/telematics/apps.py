from django.apps import AppConfig


class TelematicsConfig(AppConfig):
    name = "apps.telematics"
    label = "telematics"

    def ready(self) -> None:
        from apps.telematics import hooks, tasks

        hooks.trip_features_wanted.connect(tasks.trip_features_pending_enqueue)
        hooks.trips_detect_wanted.connect(tasks.trips_detect_enqueue)
        hooks.positions_flush_wanted.connect(tasks.positions_flush_enqueue)
