from django.apps import AppConfig


class TelematicsConfig(AppConfig):
    name = "apps.telematics"
    label = "telematics"
