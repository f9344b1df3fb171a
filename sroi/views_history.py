"""The audit history of one object for the adviser (``sroi.history``): newest first, paginated;
404 for anyone without ``Action.VIEW_AUDIT`` on the object."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from . import history

PAGE_SIZE = 25


@login_required
def object_history(request, kind: str, pk: int):
    obj = history.history_target(user=request.user, kind=kind, pk=pk)
    page = Paginator(history.history_entries(obj), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "sroi/history.html",
        {
            "object": obj,
            "kind": kind,
            "page": page,
            "rows": history.history_rows(page.object_list),
            "back_url": history.back_url(obj),
        },
    )
