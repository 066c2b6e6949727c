import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Read-path performance (issue 11).

    ``AuditLog.created`` becomes a default instead of ``auto_now_add`` (no schema change): pull
    entries buffered in Redis are written later in batches and must keep the time of the pull.
    The catalog and tags/list pages need no new index: the catalog walks the unique ``full_name``
    index once its visibility filter is written as subqueries (``access.readable_repositories``),
    and tags/list already runs on ``tag_live_listing_idx``.
    """

    dependencies = [("repositories", "0016_builds")]
    operations = [
        migrations.AlterField(
            model_name="auditlog",
            name="created",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
        ),
    ]
