"""URLs of the contracts app, namespace ``contracts``.

The screens are split over small modules by audience: the back office (contracts, obligations),
the spreadsheet import, the adviser's decisions, the policies and a contractor's portal users.
"""

from . import (
    urls_adviser,
    urls_backoffice,
    urls_contractor_users,
    urls_import,
    urls_policies,
)

app_name = "contracts"

urlpatterns = [
    *urls_backoffice.urlpatterns,
    *urls_import.urlpatterns,
    *urls_adviser.urlpatterns,
    *urls_policies.urlpatterns,
    *urls_contractor_users.urlpatterns,
]
