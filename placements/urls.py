"""URLs of the placements app, namespace ``placements``."""

from importlib import import_module

app_name = "placements"

urlpatterns = []
for module in (
    "urls_verification",
    "urls_rulebooks",
    "urls_portal",
    "urls_invitations",
    "urls_bulk",
):
    try:
        urlpatterns += import_module(f"placements.{module}").urlpatterns
    except ModuleNotFoundError as exc:  # a part not built yet
        if exc.name != f"placements.{module}":
            raise
