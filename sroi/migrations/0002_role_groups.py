"""Data migration: one auth group per role, with the admin permissions of ``sroi.roles``."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_role_groups(apps, schema_editor):
    from sroi.roles import sync_role_groups

    # Permissions are normally created after ``migrate`` (post_migrate); on a fresh database
    # they do not exist yet, so create them now from the historical models.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps)


def remove_role_groups(apps, schema_editor):
    from sroi.roles import GROUP_NAMES

    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sroi", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contracts", "0002_initial"),
        ("placements", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(create_role_groups, remove_role_groups),
    ]
