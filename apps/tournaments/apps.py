from django.apps import AppConfig


class TournamentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.tournaments"
    label = "tournaments"

    def ready(self) -> None:
        from apps.common import metrics
        from apps.tournaments.boards import EvictionReason, Scope
        from apps.tournaments.events import results_changed
        from apps.tournaments.services.board_cache.invalidation import record_result_change

        # The one receiver of every write's announcement (apps.tournaments.events).
        results_changed.connect(record_result_change, dispatch_uid="board_invalidation")
        # Every board series exists from the first scrape, in every process.
        metrics.create_series(scopes=Scope, eviction_reasons=EvictionReason)
