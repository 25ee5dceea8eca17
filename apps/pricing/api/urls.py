from django.urls import path

from apps.pricing.api import views

urlpatterns = [
    path("quotes/", views.QuoteListView.as_view(), name="quotes"),
    path("quotes/<int:quote_id>/", views.QuoteDetailView.as_view(), name="quote"),
    path("policies/", views.PolicyListView.as_view(), name="policies"),
    path("policies/<int:policy_id>/", views.PolicyDetailView.as_view(), name="policy"),
    path("policies/<int:policy_id>/cancel/", views.PolicyCancelView.as_view(), name="policy-cancel"),
]
