"""API routes of the leaderboards (public, name resolution, staff)."""

from django.urls import path

from apps.tournaments.api import admin_leaderboards, admin_tournament_ops, leaderboards, names

urlpatterns = [
    path(
        "tournaments/<int:tournament_id>/leaderboard/",
        leaderboards.TournamentLeaderboardView.as_view(),
        name="tournament_leaderboard",
    ),
    path(
        "tournaments/leaderboards/participant/<int:participant_id>/history/",
        leaderboards.ParticipantHistoryView.as_view(),
        name="participant_history",
    ),
    path(
        "tournaments/leaderboards/scoped/",
        leaderboards.ScopedLeaderboardView.as_view(),
        name="scoped_leaderboard",
    ),
    path("profiles/", names.ProfileNamesView.as_view(), name="profile_names"),
    path("teams/", names.TeamNamesView.as_view(), name="team_names"),
    path("profiles/<int:profile_id>/", names.ProfileNameView.as_view(), name="profile_name"),
    path("teams/<int:team_id>/", names.TeamNameView.as_view(), name="team_name"),
    path(
        "tournaments/<int:tournament_id>/metadata/",
        names.TournamentMetadataView.as_view(),
        name="tournament_metadata",
    ),
    path("ping/", names.PingView.as_view(), name="ping"),
    path(
        "admin/leaderboards/inspect/<int:tournament_id>/",
        admin_leaderboards.InspectView.as_view(),
        name="admin_inspect",
    ),
    path(
        "admin/leaderboards/cache/status/",
        admin_leaderboards.CacheStatusView.as_view(),
        name="admin_cache_status",
    ),
    path(
        "admin/leaderboards/cache/invalidate/",
        admin_leaderboards.CacheInvalidateView.as_view(),
        name="admin_cache_invalidate",
    ),
    path(
        "admin/tournaments/<int:tournament_id>/payments/",
        admin_tournament_ops.TournamentPaymentsView.as_view(),
        name="admin_payments",
    ),
    path(
        "admin/tournaments/<int:tournament_id>/matches/",
        admin_tournament_ops.TournamentMatchesView.as_view(),
        name="admin_matches",
    ),
    path(
        "admin/tournaments/<int:tournament_id>/disputes/",
        admin_tournament_ops.TournamentDisputesView.as_view(),
        name="admin_disputes",
    ),
]
