from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_role_groups(sender, using, **kwargs):
    """Keep the role groups' permissions current when later migrations add models."""
    from django.apps import apps

    from .roles import sync_role_groups

    # post_migrate is sent once per app, in INSTALLED_APPS order, after that app's permissions
    # are created: act on the last one, when every permission exists.
    last = list(apps.get_app_configs())[-1]
    if sender.label == last.label and using == "default":
        sync_role_groups()


class SroiConfig(AppConfig):
    name = "sroi"
    verbose_name = _("Organisations and users")

    def ready(self) -> None:
        from .audit import register_audited_models

        register_audited_models()
        post_migrate.connect(_sync_role_groups, dispatch_uid="sroi_sync_role_groups")
