from django.urls import path

from sandboxes import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sandboxes/new/", views.sandbox_create, name="sandbox_create"),
    path("sandboxes/new/env-row/", views.sandbox_env_row, name="sandbox_env_row"),
    path("sandboxes/<int:pk>/", views.sandbox_detail, name="sandbox_detail"),
    path("sandboxes/<int:pk>/edit/", views.sandbox_edit, name="sandbox_edit"),
    path("sandboxes/<int:pk>/status/", views.sandbox_status, name="sandbox_status"),
    path("sandboxes/<int:pk>/traffic/", views.sandbox_traffic, name="sandbox_traffic"),
    path("sandboxes/<int:pk>/expiry/", views.sandbox_expiry, name="sandbox_expiry"),
    path("sandboxes/<int:pk>/extend/", views.sandbox_extend, name="sandbox_extend"),
    path(
        "sandboxes/<int:pk>/confirm-delete/",
        views.sandbox_delete_confirm,
        name="sandbox_delete_confirm",
    ),
    path("sandboxes/<int:pk>/delete/", views.sandbox_delete, name="sandbox_delete"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", views.approval_decide, name="approval_decide"),
    path("catalog/", views.catalog, name="catalog"),
    path("access/", views.access_home, name="access_home"),
    path("activity/", views.activity_home, name="activity_home"),
    path("teams/<slug:slug>/activity/", views.team_activity, name="team_activity"),
    path("teams/<slug:slug>/access/", views.team_access, name="team_access"),
    path("teams/<slug:slug>/tenants/new/", views.tenant_create, name="tenant_create"),
    path("teams/<slug:slug>/tokens/new/", views.token_issue, name="token_issue"),
    path("teams/<slug:slug>/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("policies/", views.policies, name="policies"),
]
