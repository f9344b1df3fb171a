"""URLs of the placements app, namespace ``placements``: the adviser's verification screens and
rulebooks, and the contractor portal (``portal/…``: screens, invitations, bulk reporting)."""

from . import urls_bulk, urls_invitations, urls_portal, urls_rulebooks, urls_verification

app_name = "placements"

urlpatterns = [
    *urls_verification.urlpatterns,
    *urls_rulebooks.urlpatterns,
    *urls_portal.urlpatterns,
    *urls_invitations.urlpatterns,
    *urls_bulk.urlpatterns,
]
