from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from placements.portal import is_portal_only_user


@login_required
def home(request):
    """The landing page after login; role-specific pages link from here. A contractor user
    without a staff role is shown the contractor portal's home (the same page as
    ``placements:portal_home``)."""
    if is_portal_only_user(request.user):
        from placements import views_portal

        return views_portal.home(request)
    return render(request, "home.html")
