from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SroiConfig(AppConfig):
    name = "sroi"
    verbose_name = _("Organisations and users")

    def ready(self) -> None:
        from .audit import register_audited_models

        register_audited_models()
