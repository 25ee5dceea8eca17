import factory

from apps.alerts.models import OperationalEvent


class OperationalEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OperationalEvent

    event_type = OperationalEvent.EventType.MAINTENANCE
    severity = OperationalEvent.Severity.MEDIUM
    entity_type = "fleet.vehicle"
    entity_id = factory.Sequence(str)
    title = "Vehicle due for service"
