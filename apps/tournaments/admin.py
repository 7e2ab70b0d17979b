from __future__ import annotations

from django.contrib import admin

from apps.tournaments.models import (
    Dispute,
    Game,
    Match,
    Payment,
    Registration,
    Season,
    Team,
    Tournament,
)


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ("id", "slug", "name")
    search_fields = ("slug", "name")


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ("id", "slug", "name", "starts_on", "ends_on")
    search_fields = ("slug", "name")


@admin.register(Tournament)
class TournamentAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "game", "season", "participation_type", "format", "status")
    list_filter = ("status", "participation_type", "format", "game", "season")
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "tag")
    search_fields = ("name", "tag")
    filter_horizontal = ("members",)


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ("id", "tournament", "user", "team", "status", "seed", "registered_at")
    list_filter = ("status",)
    raw_id_fields = ("tournament", "user", "team")
    filter_horizontal = ("roster",)


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "tournament",
        "round",
        "match_number",
        "participant1",
        "participant2",
        "score1",
        "score2",
        "winner",
        "state",
    )
    list_filter = ("state",)
    raw_id_fields = ("tournament", "participant1", "participant2", "winner")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("id", "registration", "amount", "method", "status", "submitted_at")
    list_filter = ("status", "method")
    raw_id_fields = ("registration", "verified_by")


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ("id", "match", "reason", "status", "opened_at", "resolved_at")
    list_filter = ("status", "reason")
    raw_id_fields = ("match", "opened_by", "resolved_by")
