"""Two-factor login and lockout in the user admin.

django-otp registers admin pages for its device models that would show every user's secret
key; they are unregistered here. Instead the (scoped) user admin gets two actions: reset a
user's two-factor login (lost phone: they set up a new authenticator at their next login) and
unlock their login after a lockout (django-axes). Both act only on the users the acting
administrator may manage (the admin's scoped queryset), never on themselves, and only a
superuser acts on a superuser.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import two_factor


def unregister_device_admins(site=admin.site) -> None:
    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)


class TwoFactorUserAdminMixin:
    actions = ("reset_two_factor", "unlock_login")

    def _targets(self, request, queryset):
        targets = []
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(
                    request,
                    _("You cannot do this for your own account; ask another administrator."),
                    messages.WARNING,
                )
            elif user.is_superuser and not request.user.is_superuser:
                self.message_user(
                    request, _("Only a superuser can do this for a superuser."), messages.WARNING
                )
            else:
                targets.append(user)
        return targets

    @admin.action(description=_("Reset two-factor login (lost phone)"), permissions=["change"])
    def reset_two_factor(self, request, queryset):
        targets = self._targets(request, queryset)
        for user in targets:
            two_factor.reset(user, by=request.user)
        if targets:
            self.message_user(
                request,
                ngettext(
                    "Two-factor login reset for %(count)d user; they set it up again at "
                    "their next login.",
                    "Two-factor login reset for %(count)d users; they set it up again at "
                    "their next login.",
                    len(targets),
                )
                % {"count": len(targets)},
                messages.SUCCESS,
            )

    @admin.action(description=_("Unlock login (clear failed attempts)"), permissions=["change"])
    def unlock_login(self, request, queryset):
        targets = self._targets(request, queryset)
        for user in targets:
            two_factor.unlock_login(user)
        if targets:
            self.message_user(
                request,
                ngettext(
                    "Login unlocked for %(count)d user.",
                    "Login unlocked for %(count)d users.",
                    len(targets),
                )
                % {"count": len(targets)},
                messages.SUCCESS,
            )
