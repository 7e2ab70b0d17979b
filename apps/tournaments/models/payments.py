"""Payments of registrations (staff operations only; no board reads them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.tournaments.models.registration import Registration


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REFUNDED = "refunded"


class Payment(models.Model):
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="payments"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    method = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    transaction_reference = models.CharField(max_length=128, blank=True)
    proof_file = models.FileField(upload_to="payment_proofs/", blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["registration", "status"], name="payment_reg_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} ({self.status})"
