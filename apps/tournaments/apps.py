from django.apps import AppConfig


class TournamentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.tournaments"
    label = "tournaments"

    def ready(self) -> None:
        from apps.tournaments import signals  # noqa: F401  (result-change invalidation receivers)
