from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from placements.portal import is_portal_only_user


@login_required
def home(request):
    """The landing page after login; role-specific pages link from here.

    * an adviser lands on their dashboard (the same page as ``reporting:dashboard``);
    * a contractor user without a staff role is shown the contractor portal's home (the same
      page as ``placements:portal_home``);
    * everyone else gets the welcome page with their links.
    """
    from reporting import dashboard

    if dashboard.is_adviser(request.user):
        from reporting import views_dashboard

        return views_dashboard.dashboard(request)
    if is_portal_only_user(request.user):
        from placements import views_portal

        return views_portal.home(request)
    return render(request, "home.html")
