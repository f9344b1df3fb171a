"""The adviser's decisions on an obligation; included under the ``contracts`` namespace."""

from django.urls import path

from . import views_adviser as views

urlpatterns = [
    path("obligations/<int:pk>/agree/", views.obligation_agree, name="obligation_agree"),
    path("obligations/<int:pk>/plan/", views.plan_review, name="plan_review"),
    path("obligations/<int:pk>/plan/enter/", views.plan_enter, name="plan_enter"),
    path("obligations/<int:pk>/settle/", views.obligation_settle, name="obligation_settle"),
]
