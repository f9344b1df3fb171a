from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from .views import home


def healthz(request):
    """Liveness probe for the load balancer and docker compose."""
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = _("SROI registration and monitoring")
admin.site.site_title = _("SROI")
admin.site.index_title = _("Overview")

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("contracts/", include("contracts.urls")),
    path("contributions/", include("placements.urls")),
    path("reports/", include("reporting.urls")),
    path("", home, name="home"),
]
