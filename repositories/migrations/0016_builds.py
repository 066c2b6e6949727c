import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0015_scans")]

    operations = [
        migrations.CreateModel(
            name='BuildContextUpload',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file_id', models.CharField(max_length=64, unique=True)),
                ('location', models.CharField(blank=True, default='', help_text='storage location holding the archive', max_length=64)),
                ('path', models.CharField(blank=True, default='', max_length=255)),
                ('size', models.BigIntegerField(blank=True, help_text='bytes; null until the upload finished', null=True)),
                ('uploaded_at', models.DateTimeField(blank=True, null=True)),
                ('expires_at', models.DateTimeField(db_index=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'build context upload',
            },
        ),
        migrations.CreateModel(
            name='BuildTrigger',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('service', models.CharField(default='custom-git', max_length=32)),
                ('git_url', models.CharField(max_length=1024)),
                ('default_ref', models.CharField(default='main', help_text='branch or tag built by a manual start', max_length=255)),
                ('context_subdir', models.CharField(blank=True, default='', max_length=1024)),
                ('dockerfile_path', models.CharField(default='Dockerfile', max_length=1024)),
                ('tag_templates', models.JSONField(blank=True, default=list, help_text='tags to push; ${branch} and ${short_sha} are replaced')),
                ('secret_encrypted', models.TextField(help_text='webhook HMAC secret (encrypted)')),
                ('enabled', models.BooleanField(default=True)),
                ('consecutive_failures', models.PositiveIntegerField(default=0)),
                ('disabled_reason', models.CharField(blank=True, default='', max_length=255)),
                ('disabled_at', models.DateTimeField(blank=True, null=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('pull_robot', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.robot')),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='build_triggers', to='repositories.repository')),
            ],
            options={
                'verbose_name': 'build trigger',
            },
        ),
        migrations.CreateModel(
            name='RepositoryBuild',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('requested_by_name', models.CharField(blank=True, default='', max_length=255)),
                ('phase', models.CharField(choices=[('waiting', 'Waiting'), ('pulling', 'Pulling base images'), ('building', 'Building'), ('pushing', 'Pushing'), ('complete', 'Complete'), ('error', 'Error'), ('cancelled', 'Cancelled')], db_index=True, default='waiting', max_length=16)),
                ('context_kind', models.CharField(choices=[('archive', 'Uploaded archive'), ('git', 'Git repository')], max_length=16)),
                ('git_url', models.CharField(blank=True, default='', max_length=1024)),
                ('git_ref', models.CharField(blank=True, default='', max_length=255)),
                ('context_subdir', models.CharField(blank=True, default='', max_length=1024)),
                ('dockerfile_path', models.CharField(default='Dockerfile', max_length=1024)),
                ('tags', models.JSONField(default=list)),
                ('build_args', models.JSONField(blank=True, default=dict)),
                ('trigger_metadata', models.JSONField(blank=True, default=dict)),
                ('cancel_requested', models.BooleanField(default=False)),
                ('error', models.TextField(blank=True, default='')),
                ('manifest_digest', models.CharField(blank=True, default='', max_length=100)),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('log_archive_location', models.CharField(blank=True, default='', max_length=64)),
                ('log_archive_path', models.CharField(blank=True, default='', help_text='set once the logs moved to storage', max_length=255)),
                ('pull_robot', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.robot')),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='builds', to='repositories.repository')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('trigger', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='builds', to='repositories.buildtrigger')),
                ('upload', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='builds', to='repositories.buildcontextupload')),
            ],
            options={
                'verbose_name': 'repository build',
            },
        ),
        migrations.CreateModel(
            name='BuildLogEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveIntegerField()),
                ('entry', models.JSONField()),
                ('build', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log_entries', to='repositories.repositorybuild')),
            ],
            options={
                'verbose_name': 'build log entry',
            },
        ),
        migrations.AddIndex(
            model_name='repositorybuild',
            index=models.Index(fields=['repository', '-created'], name='build_repo_created'),
        ),
        migrations.AddConstraint(
            model_name='buildlogentry',
            constraint=models.UniqueConstraint(fields=('build', 'seq'), name='build_log_entry_seq'),
        ),
        # The build_* notification events (Quay's) join the event choices.
        migrations.AlterField(
            model_name='namespacenotification',
            name='event',
            field=models.CharField(choices=[('repo_push', 'Push to repository'), ('repo_image_expiry', 'Image expiry trigger'), ('vulnerability_found', 'Package vulnerability found'), ('repo_mirror_sync_started', 'Repository mirror started'), ('repo_mirror_sync_success', 'Repository mirror successful'), ('repo_mirror_sync_failed', 'Repository mirror unsuccessful'), ('quota_warning', 'Quota warning'), ('quota_error', 'Quota error'), ('build_queued', 'Dockerfile build queued'), ('build_start', 'Dockerfile build started'), ('build_success', 'Dockerfile build successfully completed'), ('build_failure', 'Dockerfile build failed'), ('build_cancelled', 'Dockerfile build cancelled')], max_length=64),
        ),
        migrations.AlterField(
            model_name='repositorynotification',
            name='event',
            field=models.CharField(choices=[('repo_push', 'Push to repository'), ('repo_image_expiry', 'Image expiry trigger'), ('vulnerability_found', 'Package vulnerability found'), ('repo_mirror_sync_started', 'Repository mirror started'), ('repo_mirror_sync_success', 'Repository mirror successful'), ('repo_mirror_sync_failed', 'Repository mirror unsuccessful'), ('quota_warning', 'Quota warning'), ('quota_error', 'Quota error'), ('build_queued', 'Dockerfile build queued'), ('build_start', 'Dockerfile build started'), ('build_success', 'Dockerfile build successfully completed'), ('build_failure', 'Dockerfile build failed'), ('build_cancelled', 'Dockerfile build cancelled')], max_length=64),
        ),
    ]
