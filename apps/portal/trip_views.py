"""The driver's trips: the list (with the trip in progress) and one trip with its map and speed
profile."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from apps.portal import trips
from apps.portal.views import driver_required

TRIPS_PER_PAGE = 25


def _tiles() -> dict[str, str]:
    """The maps' background: MAP_TILES_URL, the one tile server of every map (empty: none)."""
    return {"tiles": settings.MAP_TILES_URL, "tiles_attribution": settings.MAP_TILES_ATTRIBUTION}


@driver_required
def trip_list(request):
    page = Paginator(trips.driver_trip_list(driver_id=request.driver.pk), TRIPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/trips.html",
        {
            "driver": request.driver,
            "page": page,
            "cards": trips.trip_cards(page),
            "live_trip": trips.driver_live_trip(driver_id=request.driver.pk),
            **_tiles(),
        },
    )


@driver_required
def trip_live(request):
    """The trip-in-progress panel alone, fetched again when the live channel says a trip moved."""
    return render(
        request,
        "portal/_live_trip.html",
        {"driver": request.driver, "live_trip": trips.driver_live_trip(driver_id=request.driver.pk)},
    )


@driver_required
def trip_detail(request, trip_id: int):
    trip = trips.driver_trip_get(driver_id=request.driver.pk, trip_id=trip_id)
    if trip is None:
        raise Http404("no such trip")
    return render(
        request, "portal/trip_detail.html", {"driver": request.driver, **trips.trip_detail(trip=trip), **_tiles()}
    )
