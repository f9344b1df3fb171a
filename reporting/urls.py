"""URLs of the reporting app, namespace ``reporting``."""

from importlib import import_module

app_name = "reporting"

urlpatterns = []
for module in ("urls_reports",):
    try:
        urlpatterns += import_module(f"reporting.{module}").urlpatterns
    except ModuleNotFoundError as exc:  # a part not built yet
        if exc.name != f"reporting.{module}":
            raise
