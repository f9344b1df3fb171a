from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import views_account
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
    path("admin/login/", views_account.admin_login),
    path("admin/", admin.site.urls),
    path("accounts/login/", views_account.SroiLoginView.as_view(), name="login"),
    path("accounts/two-factor/", views_account.verify, name="two_factor_verify"),
    path("accounts/two-factor/set-up/", views_account.enrol, name="two_factor_enrol"),
    path("accounts/security/", views_account.security, name="account_security"),
    path(
        "accounts/security/recovery-codes/",
        views_account.regenerate_recovery_codes,
        name="account_regenerate_recovery_codes",
    ),
    path(
        "accounts/security/disable-two-factor/",
        views_account.disable,
        name="account_disable_two_factor",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("contracts/", include("contracts.urls")),
    path("contributions/", include("placements.urls")),
    path("reports/", include("reporting.urls")),
    path("history/", include("sroi.urls_history")),
    path("", home, name="home"),
]
