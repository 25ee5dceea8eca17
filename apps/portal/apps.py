from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "apps.portal"
    label = "portal"

    def ready(self) -> None:
        from apps.customers.services import notifications_created
        from apps.portal import live
        from apps.telematics.hooks import trip_features_computed

        notifications_created.connect(live.notifications_push)
        trip_features_computed.connect(live.trips_changed)
