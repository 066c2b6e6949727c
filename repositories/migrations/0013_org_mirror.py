import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0012_proxy_cache")]

    operations = [
        migrations.CreateModel(
            name='OrganizationMirror',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('external_registry_url', models.CharField(max_length=512)),
                ('external_namespace', models.CharField(blank=True, default='', max_length=255)),
                ('username_encrypted', models.TextField(blank=True, default='')),
                ('password_encrypted', models.TextField(blank=True, default='')),
                ('verify_tls', models.BooleanField(default=True)),
                ('repository_patterns', models.JSONField(blank=True, default=list)),
                ('repositories', models.JSONField(blank=True, default=list)),
                ('tag_patterns', models.JSONField(blank=True, default=list)),
                ('architecture_filter', models.JSONField(blank=True, default=list)),
                ('visibility', models.CharField(choices=[('public', 'Public'), ('private', 'Private')], default='private', max_length=8)),
                ('delete_stale_repos', models.BooleanField(default=False)),
                ('sync_interval', models.PositiveIntegerField(help_text='seconds between two syncs')),
                ('sync_start_date', models.DateTimeField()),
                ('timeout_s', models.PositiveIntegerField(default=300)),
                ('is_enabled', models.BooleanField(default=True)),
                ('status', models.CharField(choices=[('NEVER_RUN', 'Never run'), ('SYNC_NOW', 'Sync requested'), ('SYNCING', 'Syncing'), ('SUCCESS', 'Success'), ('FAIL', 'Failed'), ('CANCEL', 'Cancelled')], default='NEVER_RUN', max_length=10)),
                ('next_sync_at', models.DateTimeField(blank=True, null=True)),
                ('cancel_requested', models.BooleanField(default=False)),
                ('sync_token', models.CharField(blank=True, default='', max_length=64)),
                ('sync_expires_at', models.DateTimeField(blank=True, null=True)),
                ('queued_until', models.DateTimeField(blank=True, null=True)),
                ('last_sync_started_at', models.DateTimeField(blank=True, null=True)),
                ('last_sync_finished_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True, default='')),
                ('last_result', models.JSONField(blank=True, default=dict)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('organization', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='mirror', to='organizations.organization')),
                ('robot', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='organization_mirrors', to='accounts.robot')),
            ],
        ),
        migrations.CreateModel(
            name='OrganizationMirrorRepository',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('upstream_name', models.CharField(max_length=512)),
                ('status', models.CharField(choices=[('NEVER_RUN', 'Never run'), ('SYNC_NOW', 'Sync requested'), ('SYNCING', 'Syncing'), ('SUCCESS', 'Success'), ('FAIL', 'Failed'), ('CANCEL', 'Cancelled')], default='NEVER_RUN', max_length=10)),
                ('discovered_at', models.DateTimeField(auto_now_add=True)),
                ('last_seen_at', models.DateTimeField(blank=True, null=True)),
                ('gone_since', models.DateTimeField(blank=True, null=True)),
                ('last_sync_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True, default='')),
                ('last_result', models.JSONField(blank=True, default=dict)),
                ('org_mirror', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='discovered', to='repositories.organizationmirror')),
                ('repository', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='org_mirror_entries', to='repositories.repository')),
            ],
            options={
                'ordering': ['upstream_name'],
            },
        ),
        migrations.AddIndex(
            model_name='organizationmirror',
            index=models.Index(fields=['is_enabled', 'next_sync_at'], name='org_mirror_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='organizationmirrorrepository',
            constraint=models.UniqueConstraint(fields=('org_mirror', 'upstream_name'), name='org_mirror_repo_unique'),
        ),
    ]
