from django.urls import path

from rooms import views

urlpatterns = [
    path("", views.room_list, name="room-list"),
    path("rooms/<int:pk>/", views.room_console, name="room-console"),
    path("rooms/<int:pk>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<int:pk>/actions/<str:action>/", views.room_action, name="room-action"),
    path("rooms/<int:pk>/stage/<str:action>/", views.room_stage, name="room-stage"),
    path("rooms/<int:pk>/paragraph/", views.room_paragraph, name="room-paragraph"),
    path("rooms/<int:pk>/audience/", views.room_audience, name="room-audience"),
    path("rooms/<int:pk>/preview/", views.room_preview, name="room-preview"),
    path("rooms/<int:pk>/audience-token/", views.room_audience_token, name="room-audience-token"),
    path("scripts/", views.script_list, name="script-list"),
    path("scripts/new/", views.script_edit, name="script-create"),
    path("scripts/<int:pk>/", views.script_edit, name="script-edit"),
    path("orphans/", views.orphan_list, name="orphan-list"),
    path("orphans/close/", views.orphan_close, name="orphan-close"),
    path("callbacks/<str:kind>/<str:key>/", views.callback, name="callback"),
]
