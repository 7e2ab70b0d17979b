from django.apps import AppConfig


class CommonConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.common"
    label = "common"

    def ready(self) -> None:
        # The admin login's log lines: receivers of Django's and django-axes' login signals.
        from apps.common import admin_login  # noqa: F401
