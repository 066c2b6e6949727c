"""Identity housekeeping."""

from celery import shared_task

from accounts.registry_tokens import signing_key_current, signing_keys_prune


@shared_task(name="registry.identity.rotate_signing_keys")
def rotate_signing_keys() -> int:
    """Make sure a current signing key exists (rotating when due) and drop keys whose tokens
    have all expired. Idempotent; returns how many keys were removed."""
    signing_key_current()
    return signing_keys_prune()
