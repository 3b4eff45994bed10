from django.urls import path

from sandboxes import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
