"""Brenda's URL map: health at the root, webhooks, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("webhooks.urls")),
    path("admin/", admin.site.urls),
]
