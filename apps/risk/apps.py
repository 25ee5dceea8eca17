from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "apps.risk"
    label = "risk"

    def ready(self) -> None:
        from apps.risk import hooks, services, tasks
        from apps.telematics.hooks import trip_features_computed

        trip_features_computed.connect(services.drivers_trips_computed)
        hooks.rescore_wanted.connect(tasks.driver_rescore_enqueue)
