"""What a manifest GET records: its ``pull_repo`` audit entry and its pull counts.

With Redis both go to Redis in one pipelined round trip (an RPUSH onto the audit buffer, the
HINCRBYs of the counts) and reach the database in batches (``audit.audit_buffer_drain``,
``pull_stats.pull_stats_flush``); without Redis, or when Redis fails, both are written to the
database at once, in one transaction (one commit, which is what costs on SQLite).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.principals import Principal
from common.grammar import is_digest_reference
from repositories.models import Repository
from repositories.services import pull_stats
from repositories.services.audit import RequestInfo, audit_buffer_key, audit_entry_encode, audit_log

logger = logging.getLogger("moorage.pulls")


def manifest_pull_record(*, principal: Principal | None, repository: Repository, reference: str, digest: str, request: RequestInfo | None) -> None:
    """Record one pull of ``digest`` through ``reference`` (a tag or a digest). Never loses the
    audit entry: a Redis failure falls back to the direct write (which may then count a pull
    twice if the failed pipeline had partly gone through: at least once)."""
    tag = None if is_digest_reference(reference) else reference
    metadata = {"reference": reference, "digest": digest}
    now = timezone.now()
    client = pull_stats.redis_client()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            pipe.rpush(audit_buffer_key(), audit_entry_encode(
                kind="pull_repo", principal=principal, repository=repository, request=request, metadata=metadata, now=now,
            ))
            if pull_stats.enabled():
                pull_stats.pull_count_queue(pipe, repository_id=repository.pk, tag=tag, digest=digest, now=now)
            pipe.execute()
            return
        except Exception:  # noqa: BLE001 - Redis down or slow: write to the database instead
            logger.warning("pull of %s in %s: Redis unavailable, recording it in the database", digest, repository.full_name)
    with transaction.atomic():
        audit_log(kind="pull_repo", principal=principal, repository=repository, request=request, metadata=metadata)
        pull_stats.pull_record_direct(repository=repository, tag=tag, digest=digest, now=now)
