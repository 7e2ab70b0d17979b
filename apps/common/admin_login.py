"""The Django admin login's throttle (django-axes): its backend, its refusal and its log lines.

django-axes counts failed logins per account and per client address (settings AXES_*). Once
either reaches the limit, its backend refuses every login for that account or from that address,
the right password included, before the password is checked; `AxesMiddleware` then answers with
`lockout_response`. Three log events, none with the account name, the address or the password
(hashes keyed with SECRET_KEY: the same account gives the same hash, which lets an operator
follow one account without the log holding it):

- `admin_login_failed`: a wrong password (or unknown account), counted;
- `admin_login_locked`: that failure reached the limit; from now on logins are refused;
- `admin_login_refused`: a login refused because of a lock (the password was not checked).

Staff unlock an account or an address with `manage.py axes_reset_username <name>` or
`manage.py axes_reset_ip <address>` (docs/admin/login_throttle.md).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import structlog
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.common.api.errors import error_body
from apps.common.errors import ErrorCode

log = structlog.get_logger(__name__)

_REFUSED = "_deltacrown_login_refused"


def private_hash(value: str | None) -> str | None:
    """A short keyed hash of an account name or an address, for log lines."""
    if not value:
        return None
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def client_address(request: HttpRequest) -> str | None:
    """The address the throttle counts (AXES_CLIENT_IP_CALLABLE). With no proxy in front, the
    connection's; behind TRUSTED_PROXY_COUNT proxies, each appending the address it was called
    from to X-Forwarded-For, the one the outermost proxy wrote: the Nth from the right. Entries
    left of it are the client's own and never trusted. (Hand-written: django-ipware's strict
    chain check yields no address at all for a chain longer than expected, which a client can
    cause by sending the header itself, and the per-address lock would then not apply.)"""
    hops: int = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or None
    if hops <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    forwarded = [entry.strip() for entry in header.split(",") if entry.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def _who(request: HttpRequest | None, credentials: dict[str, Any] | None) -> dict[str, Any]:
    username = (credentials or {}).get("username")
    address = client_address(request) if request is not None else None
    return {"account_hash": private_hash(username), "address_hash": private_hash(address)}


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' backend, logging each refusal once (Django then reports the refusal as a failed
    login too; the receivers below skip it, so every attempt has exactly one line)."""

    def authenticate(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        try:
            return super().authenticate(request, *args, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, _REFUSED, True)
            log.warning("admin_login_refused", **_who(request, kwargs))
            raise


@receiver(user_login_failed)
def _log_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None and getattr(request, _REFUSED, False):
        return
    log.warning("admin_login_failed", **_who(request, credentials))


@receiver(user_locked_out)
def _log_lock(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and getattr(request, _REFUSED, False):
        return
    credentials = getattr(request, "axes_credentials", None) or {"username": kwargs.get("username")}
    log.warning("admin_login_locked", **_who(request, credentials))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> JsonResponse:
    """The answer to a locked-out login: the API's 429 envelope. It does not say whether the
    account exists; `Retry-After` is the whole cool-off, the longest the lock can still last."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    body = error_body(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        f"Too many failed logins for this account or from this address; "
        f"logins are refused for up to {seconds // 60} minutes.",
        retry_after_seconds=seconds,
    )
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(seconds)
    return response
