"""API test fixtures: token-authenticated clients for a player and a staff member."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.tournaments.tests.factories import UserFactory


def _client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def player(db):
    return UserFactory(username="api-player")


@pytest.fixture
def staff(db):
    return UserFactory(username="api-staff", is_staff=True)


@pytest.fixture
def player_client(player) -> APIClient:
    return _client_for(player)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return _client_for(staff)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for():
    return _client_for
