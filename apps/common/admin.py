from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.common.flag_changes import delete_flag, set_flag
from apps.common.models import AuditRecord, FeatureFlag, User


def _is_active_staff(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_staff)


@admin.register(User)
class DeltaCrownUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Profile", {"fields": ("display_name",)}))
    list_display = ("id", "username", "display_name", "is_staff", "is_active")


@admin.register(FeatureFlag)
class FeatureFlagAdmin(admin.ModelAdmin):
    list_display = ("name", "is_enabled", "rollout_percent", "updated_at", "updated_by")
    list_editable = ("is_enabled", "rollout_percent")
    readonly_fields = ("updated_at", "updated_by")
    search_fields = ("name",)

    # Contract: staff (`is_staff`) toggle the flags here. Django's default would also require the
    # model permissions, which a staff account made for operations usually lacks; viewing and
    # changing flags needs staff only. Adding and deleting rows keep Django's permissions (the
    # migration creates the three flags).
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_active_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_active_staff(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_active_staff(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A renamed flag is a flag that no longer exists: its code reads "off" by default.
        return (*self.readonly_fields, "name") if obj is not None else self.readonly_fields

    # Every change goes through `set_flag` / `delete_flag`: the audit record names the staff
    # member who saved it (list_editable saves come through `save_model` too).
    def save_model(self, request: HttpRequest, obj: FeatureFlag, form: Any, change: bool) -> None:
        saved = set_flag(
            obj.name,
            actor_id=request.user.pk,
            is_enabled=obj.is_enabled,
            rollout_percent=obj.rollout_percent,
            description=obj.description,
        )
        obj.pk, obj.updated_at, obj.updated_by_id = saved.pk, saved.updated_at, saved.updated_by_id

    def delete_model(self, request: HttpRequest, obj: FeatureFlag) -> None:
        delete_flag(obj.name, actor_id=request.user.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FeatureFlag]) -> None:
        with transaction.atomic():
            for name in queryset.values_list("name", flat=True):
                delete_flag(name, actor_id=request.user.pk)


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "action", "actor_id", "created_at")
    list_filter = ("action",)
    readonly_fields = ("actor_id", "action", "created_at", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
