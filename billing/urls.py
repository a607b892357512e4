"""URL of Settings > Billing."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [path("settings/billing/", views.billing, name="billing")]
