import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_robot_unstructured_metadata"),
        ("repositories", "0009_gc"),
    ]

    operations = [
        migrations.CreateModel(
            name="RepositoryMirror",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("external_reference", models.CharField(max_length=512)),
                ("username_encrypted", models.TextField(blank=True, default="")),
                ("password_encrypted", models.TextField(blank=True, default="")),
                ("verify_tls", models.BooleanField(default=True)),
                ("tag_patterns", models.JSONField(blank=True, default=list)),
                ("architecture_filter", models.JSONField(blank=True, default=list)),
                ("delete_stale_tags", models.BooleanField(default=False)),
                ("sync_interval", models.PositiveIntegerField(help_text="seconds between two syncs")),
                ("sync_start_date", models.DateTimeField()),
                ("timeout_s", models.PositiveIntegerField(default=300)),
                ("is_enabled", models.BooleanField(default=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("NEVER_RUN", "Never run"), ("SYNC_NOW", "Sync requested"), ("SYNCING", "Syncing"), ("SUCCESS", "Success"), ("FAIL", "Failed"), ("CANCEL", "Cancelled")],
                        default="NEVER_RUN", max_length=10,
                    ),
                ),
                ("next_sync_at", models.DateTimeField(blank=True, null=True)),
                ("retries_remaining", models.PositiveSmallIntegerField(default=3)),
                ("cancel_requested", models.BooleanField(default=False)),
                ("sync_token", models.CharField(blank=True, default="", max_length=64)),
                ("sync_expires_at", models.DateTimeField(blank=True, null=True)),
                ("queued_until", models.DateTimeField(blank=True, null=True)),
                ("last_sync_started_at", models.DateTimeField(blank=True, null=True)),
                ("last_sync_finished_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, default="")),
                ("last_result", models.JSONField(blank=True, default=dict)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("updated", models.DateTimeField(auto_now=True)),
                ("repository", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="mirror", to="repositories.repository")),
                ("robot", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="mirrors", to="accounts.robot")),
            ],
            options={"indexes": [models.Index(fields=["is_enabled", "next_sync_at"], name="mirror_due_idx")]},
        ),
    ]
