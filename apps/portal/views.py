"""Driver pages: sign-in, dashboard and trips. Views only wire the signed-in driver to the
portal selectors; every read is scoped to the driver's own customer record."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.common.exceptions import ApplicationError
from apps.customers import services as customer_services
from apps.portal import selectors
from apps.portal.export import driver_export
from apps.portal.privacy import privacy_overview
from apps.telematics.rewards import driver_rewards, region_leaderboard


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


class SignedInDriverMixin:
    """For Django's own views: the layout shows the signed-in driver's menu (`request.driver`)
    without refusing a login that has no customer record."""

    def dispatch(self, request, *args, **kwargs):
        request.driver = selectors.portal_driver(user=request.user)
        return super().dispatch(request, *args, **kwargs)


# Password change and reset: Django's own views, in the portal's templates and URLs. The reset
# e-mail's link starts with PORTAL_BASE_URL, so it is right behind a proxy too.
class PortalPasswordChangeView(SignedInDriverMixin, auth_views.PasswordChangeView):
    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal:password-change-done")


class PortalPasswordChangeDoneView(SignedInDriverMixin, auth_views.PasswordChangeDoneView):
    template_name = "portal/password_message.html"
    extra_context = {"heading": "Password changed", "text": "Your new password is in use from now on."}


class PortalPasswordResetView(SignedInDriverMixin, auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-done")

    @property
    def extra_email_context(self):
        return {"base_url": settings.PORTAL_BASE_URL.rstrip("/")}


class PortalPasswordResetDoneView(SignedInDriverMixin, auth_views.PasswordResetDoneView):
    template_name = "portal/password_message.html"
    extra_context = {
        "heading": "Check your e-mail",
        "text": "If an account has that address, a link to choose a new password is on its way. "
        "It works once and for three days.",
    }


class PortalPasswordResetConfirmView(SignedInDriverMixin, auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PortalPasswordResetCompleteView(SignedInDriverMixin, auth_views.PasswordResetCompleteView):
    template_name = "portal/password_message.html"
    extra_context = {"heading": "Password set", "text": "You can sign in with your new password now."}


@driver_required
def dashboard(request):
    context = selectors.driver_dashboard(driver_id=request.driver.pk)
    return render(request, "portal/dashboard.html", {"driver": request.driver, **context})


@driver_required
def rewards(request):
    driver = request.driver
    region_id = driver.home_store.region_id if driver.home_store_id else None
    board = region_leaderboard(driver_id=driver.pk, region_id=region_id, now=timezone.now())
    return render(
        request, "portal/rewards.html", {"driver": driver, "board": board, **driver_rewards(driver_id=driver.pk)}
    )


@driver_required
@require_http_methods(["GET", "POST"])
def privacy(request):
    driver = request.driver
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "consent_withdraw":
                customer_services.consent_withdraw(customer=driver, actor=request.user)
                messages.success(request, "Telematics consent withdrawn: from now on no trip of yours is stored.")
            elif action == "consent_grant":
                customer_services.consent_grant(customer=driver, actor=request.user)
                messages.success(request, "Telematics consent given: your trips will be scored again.")
            elif action == "preferences":
                customer_services.customer_preferences_update(
                    customer=driver,
                    leaderboard_opt_in=request.POST.get("leaderboard_opt_in") == "on",
                    notify_by_email=request.POST.get("notify_by_email") == "on",
                    actor=request.user,
                )
                messages.success(request, "Your choices are saved.")
            elif action == "erasure":
                customer_services.erasure_request_create(
                    customer=driver, reason=request.POST.get("reason", ""), actor=request.user
                )
                messages.success(request, "Your request is recorded; the back office will answer by e-mail.")
            else:
                messages.error(request, "Unknown action.")
        except ApplicationError as exc:
            messages.error(request, str(exc))
        return redirect("portal:privacy")
    return render(request, "portal/privacy.html", {"driver": driver, **privacy_overview(driver=driver)})


@driver_required
def privacy_export(request):
    stamp = timezone.localdate().isoformat()
    return FileResponse(
        driver_export(customer=request.driver), as_attachment=True, filename=f"fleetops-my-data-{stamp}.zip"
    )


@driver_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    if request.method == "POST":
        customer_services.notifications_mark_read(customer=request.driver)
        return redirect("portal:notifications")
    page = Paginator(selectors.driver_notifications(driver_id=request.driver.pk), 30).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"driver": request.driver, "page": page})
