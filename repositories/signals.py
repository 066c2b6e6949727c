"""Domain signals; ``tasks.receivers`` turns them into queued work after commit."""

from django.dispatch import Signal

#: sent with ``repository_id``, ``manifest_id``, ``digest`` and ``tags`` after a manifest push commits
manifest_pushed = Signal()
#: sent with ``repository_id`` and ``digest`` after a manifest is deleted
manifest_deleted = Signal()
