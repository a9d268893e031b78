"""Brenda's URL map: health at the root, webhooks, metrics, and the admin."""

from django.contrib import admin
from django.urls import include, path

from threads.admin import stats_view
from threads.admin.inbox import urlpatterns as inbox_urls
from threads.admin.media import media_view
from webhooks.metrics import MetricsView

admin.site.site_header = "Brenda administration"
admin.site.site_title = "Brenda admin"
admin.site.index_title = "WhatsApp sales assistant"
admin.site.site_url = None  # no "View site" link: "/" is the JSON health check, not a site for staff

urlpatterns = [
    path("", include("webhooks.urls")),
    path("metrics", MetricsView.as_view(), name="metrics"),
    # Before admin.site.urls, whose catch-all would answer this path with a 404.
    path("admin/threads/stats/", admin.site.admin_view(stats_view), name="threads_stats"),
    path("admin/threads/media/<int:message_id>/<int:index>/", admin.site.admin_view(media_view), name="threads_media"),
    path("admin/inbox/", include(inbox_urls)),
    path("admin/", admin.site.urls),
]
