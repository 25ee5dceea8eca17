"""Driver pages: sign-in, dashboard and trips. Views only wire the signed-in driver to the
portal selectors; every read is scoped to the driver's own customer record."""

from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse_lazy

from apps.portal import selectors

TRIPS_PER_PAGE = 25


def driver_required(view):
    """Anonymous users go to the portal sign-in; a user without a linked customer record (staff,
    for instance) gets a 403 page that says why."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse_lazy("portal:login"))
        driver = selectors.portal_driver(user=request.user)
        if driver is None:
            return render(request, "portal/forbidden.html", status=403)
        request.driver = driver
        return view(request, *args, **kwargs)

    return wrapped


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("portal:dashboard")


class PortalLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


@driver_required
def dashboard(request):
    context = selectors.driver_dashboard(driver_id=request.driver.pk)
    return render(request, "portal/dashboard.html", {"driver": request.driver, **context})


@driver_required
def trip_list(request):
    page = Paginator(selectors.driver_trip_list(driver_id=request.driver.pk), TRIPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/trips.html", {"driver": request.driver, "page": page})


@driver_required
def trip_detail(request, trip_id: int):
    trip = selectors.driver_trip_get(driver_id=request.driver.pk, trip_id=trip_id)
    if trip is None:
        raise Http404("no such trip")
    return render(request, "portal/trip_detail.html", {"driver": request.driver, **selectors.trip_detail(trip=trip)})
