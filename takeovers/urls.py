from django.urls import path

from takeovers import views

urlpatterns = [
    path("rooms/<int:pk>/takeovers/", views.takeover_create, name="takeover-create"),
    path("rooms/<int:pk>/takeovers/cancel/", views.takeover_cancel, name="takeover-cancel-all"),
    path("rooms/<int:pk>/takeovers/<int:takeover_id>/cancel/", views.takeover_cancel, name="takeover-cancel"),
    path("rooms/<int:pk>/takeovers/<int:takeover_id>/move/", views.takeover_move, name="takeover-move"),
    path("rooms/<int:pk>/quick-reply/", views.quick_reply, name="quick-reply"),
    path("rooms/<int:pk>/qa/", views.qa_ask, name="qa-ask"),
]
