"""API routes of the leaderboards (public, name resolution, staff)."""

from django.urls import path

from apps.tournaments.api import leaderboards, names

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
    path("profiles/<int:profile_id>/", names.ProfileNameView.as_view(), name="profile_name"),
    path("teams/<int:team_id>/", names.TeamNameView.as_view(), name="team_name"),
    path(
        "tournaments/<int:tournament_id>/metadata/",
        names.TournamentMetadataView.as_view(),
        name="tournament_metadata",
    ),
    path("ping/", names.PingView.as_view(), name="ping"),
]
