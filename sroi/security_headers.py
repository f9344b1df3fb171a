"""Response headers Django's own security middleware does not set.

* ``Permissions-Policy``: no page uses the camera, microphone, location, payment and other
  powerful browser features, so they are switched off for the site and anything it embeds.
* ``Cache-Control: private, no-store`` on every response to a logged-in user: the pages hold
  personal data, so neither a shared proxy nor the browser of a shared computer may keep them.
  A response that already says how it may be cached (a download, a view decorated with
  ``never_cache``) keeps its own value.

The Content-Security-Policy comes from django-csp (``CONTENT_SECURITY_POLICY`` in the
settings); HSTS, ``X-Content-Type-Options``, ``Referrer-Policy`` and
``Cross-Origin-Opener-Policy`` from Django's ``SecurityMiddleware``; ``X-Frame-Options`` from
the clickjacking middleware.
"""

from __future__ import annotations

#: Features switched off (an empty allow-list).
DISABLED_FEATURES = (
    "accelerometer",
    "autoplay",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DISABLED_FEATURES)
PRIVATE_CACHE_CONTROL = "private, no-store"


def _is_logged_in(request) -> bool:
    user = getattr(request, "user", None)  # absent when a middleware answered before auth
    return bool(user is not None and user.is_authenticated)


class SecurityHeadersMiddleware:
    """Adds ``Permissions-Policy`` everywhere and ``Cache-Control: private, no-store`` to
    responses for logged-in users (unless the view set its own ``Cache-Control``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if "Cache-Control" not in response and _is_logged_in(request):
            response["Cache-Control"] = PRIVATE_CACHE_CONTROL
        return response
