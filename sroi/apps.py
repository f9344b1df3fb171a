from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SroiConfig(AppConfig):
    name = "sroi"
    verbose_name = _("Organisations and users")
