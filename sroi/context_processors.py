"""What the layout needs to know about the user: their roles, for the navigation."""

from .models import Role
from .permissions import get_scope


def navigation(request):
    user = getattr(request, "user", None)
    scope = get_scope(user)
    roles = scope.roles
    return {
        "nav": {
            "is_adviser": scope.is_superuser or Role.ADVISER in roles,
            "is_officer": Role.PROCUREMENT_OFFICER in roles,
            "is_council": Role.COUNCIL_VIEWER in roles,
            "is_functional_admin": Role.FUNCTIONAL_ADMIN in roles,
            "is_contractor": scope.is_contractor,
            "is_staff_user": bool(scope.municipalities_by_role) or scope.is_superuser,
        }
    }
