from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """The landing page after login; role-specific pages link from here."""
    return render(request, "home.html")
