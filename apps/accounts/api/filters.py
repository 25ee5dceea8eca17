import django_filters
from django.db.models import Exists, OuterRef

from apps.customers.models import Customer
from apps.pricing.models import Policy
from apps.telematics.models import Trip


class DriverFilter(django_filters.FilterSet):
    city = django_filters.CharFilter(field_name="city", lookup_expr="iexact")
    policy_status = django_filters.ChoiceFilter(
        choices=Policy.Status.choices, method="filter_policy_status", help_text="Drivers with a policy in this status."
    )
    licence_since_before = django_filters.DateFilter(field_name="licence_since", lookup_expr="lt")
    licence_since_after = django_filters.DateFilter(field_name="licence_since", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = ["city", "policy_status", "licence_since_before", "licence_since_after"]

    def filter_policy_status(self, queryset, name, value):
        partner = self.request.user.partner
        return queryset.filter(Exists(Policy.objects.filter(partner=partner, driver_id=OuterRef("pk"), status=value)))


class TripFilter(django_filters.FilterSet):
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    min_distance_km = django_filters.NumberFilter(
        field_name="distance_km", lookup_expr="gte", min_value=0, max_value=100000
    )

    class Meta:
        model = Trip
        fields = ["started_after", "started_before", "min_distance_km"]
