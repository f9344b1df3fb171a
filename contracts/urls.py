"""URLs of the contracts app, namespace ``contracts``.

The screens are split over a few modules so each stays small: the back office (contracts,
obligations, contractors), the spreadsheet import, the adviser's decisions and the policies.
"""

from importlib import import_module

app_name = "contracts"

urlpatterns = []
for module in (
    "urls_backoffice",
    "urls_import",
    "urls_adviser",
    "urls_policies",
    "urls_contractor_users",
):
    try:
        urlpatterns += import_module(f"contracts.{module}").urlpatterns
    except ModuleNotFoundError as exc:  # a part not built yet
        if exc.name != f"contracts.{module}":
            raise
