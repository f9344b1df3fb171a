"""Back-office screens for contracts and obligations (included by ``contracts.urls``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.contract_list, name="contract_list"),
    path("new/", views.contract_create, name="contract_create"),
    path("<int:pk>/", views.contract_detail, name="contract_detail"),
    path("<int:pk>/edit/", views.contract_edit, name="contract_edit"),
    path("obligations/", views.obligation_list, name="obligation_list"),
    path("obligations/<int:pk>/", views.obligation_detail, name="obligation_detail"),
]
