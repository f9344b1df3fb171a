"""URLs of the reporting app, namespace ``reporting``: council reports and exports."""

from .urls_reports import urlpatterns as report_urlpatterns

app_name = "reporting"

urlpatterns = [*report_urlpatterns]
