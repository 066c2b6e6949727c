"""A global read-only superuser reads everything and writes only where their own roles allow."""

import pytest

from accounts.services import principal_for_user, user_create
from repositories.access import Action, can_create_in_namespace, is_allowed
from repositories.services.repositories import repository_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor():
    return user_create(username="auditor", password="auditor-pass-1", is_readonly_superuser=True)


def test_a_read_only_superuser_may_pull_someone_elses_private_repository(auditor):
    owner = user_create(username="owner", password="owner-pass-123")
    repository = repository_get_or_create(name="owner/secret", creator=principal_for_user(owner, "password"))
    principal = principal_for_user(auditor, "password")

    assert is_allowed(principal, Action.PULL, repository)
    assert not is_allowed(principal, Action.PUSH, repository)
    assert not is_allowed(principal, Action.DELETE, repository)


def test_a_read_only_superuser_may_push_to_their_own_namespace(auditor):
    principal = principal_for_user(auditor, "password")
    assert can_create_in_namespace(principal, "auditor")
    repository = repository_get_or_create(name="auditor/notes", creator=principal)

    assert is_allowed(principal, Action.PUSH, repository)
