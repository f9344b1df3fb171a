"""``{% history_url obj as url %}``: the audit history page of ``obj`` when the requesting user
may see it (``Action.VIEW_AUDIT``), otherwise ""."""

from django import template

from sroi.history import history_url as _history_url

register = template.Library()


@register.simple_tag(takes_context=True)
def history_url(context, obj) -> str:
    request = context.get("request")
    if request is None or obj is None:
        return ""
    return _history_url(request.user, obj)
