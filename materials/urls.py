from django.urls import path

from materials import views

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:account_pk>/", views.catalog, name="catalog-account"),
    path("catalog/<int:account_pk>/sync/", views.catalog_sync, name="catalog-sync"),
    path("catalog/<int:account_pk>/voice-change-trial/", views.voice_change_trial, name="voice-change-trial"),
]
