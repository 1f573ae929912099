from django.apps import AppConfig


class TakeoversConfig(AppConfig):
    name = "takeovers"
