"""Signals of the accounts layer, for the layers above it (which it may not import)."""

from django.dispatch import Signal

#: sent with ``namespace`` inside the transaction that deletes a user's or an organization's
#: namespace, before the deletion: the repositories layer hides the namespace's repositories
#: (their content is purged in the background) so the namespace can go at once
namespace_deleting = Signal()
