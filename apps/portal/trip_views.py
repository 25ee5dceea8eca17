"""The driver's trips: the list (with the trip in progress), one trip with its map and speed
profile, and the live stream of the signed-in driver's own events."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from apps.portal import live, trips
from apps.portal.views import driver_required

TRIPS_PER_PAGE = 25


def _tiles() -> dict[str, str]:
    """The portal's map background (PORTAL_MAP_TILES; empty: none)."""
    return {"tiles": settings.PORTAL_MAP_TILES, "tiles_attribution": settings.PORTAL_MAP_TILES_ATTRIBUTION}


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


@driver_required
def live_stream(request):
    """Server-Sent Events for the signed-in driver only: the topic comes from the session's
    driver, never from the request."""
    return live.stream(driver_id=request.driver.pk)
