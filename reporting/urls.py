"""URLs of the reporting app, namespace ``reporting``: council reports and exports, the
adviser's monitoring dashboard and e-mail preferences."""

from .urls_dashboard import urlpatterns as dashboard_urlpatterns
from .urls_preferences import urlpatterns as preferences_urlpatterns
from .urls_reports import urlpatterns as report_urlpatterns

app_name = "reporting"

urlpatterns = [*report_urlpatterns, *dashboard_urlpatterns, *preferences_urlpatterns]
