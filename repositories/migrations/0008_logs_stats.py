"""Audit-log archives and exports, pull statistics (issue #6, logs and statistics)."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('repositories', '0007_lifecycle_quotas'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditLogArchive',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('path', models.CharField(max_length=512, unique=True)),
                ('location', models.CharField(help_text='Storage location (its name in the storage config).', max_length=64)),
                ('first_id', models.BigIntegerField(help_text='Smallest audit-log id in the file.')),
                ('last_id', models.BigIntegerField(help_text='Largest audit-log id in the file.')),
                ('start', models.DateTimeField(db_index=True, help_text='Time of the oldest entry in the file.')),
                ('end', models.DateTimeField(db_index=True, help_text='Time of the newest entry in the file.')),
                ('count', models.PositiveIntegerField()),
                ('size', models.BigIntegerField(help_text='Bytes of the compressed file.')),
                ('complete', models.BooleanField(db_index=True, default=False, help_text='False while written (or left by a rotation that died).')),
                ('created', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name': 'audit-log archive',
                'ordering': ['-start', '-id'],
            },
        ),
        migrations.CreateModel(
            name='LogExport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('export_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('requested_by_name', models.CharField(blank=True, default='', max_length=255)),
                ('repository_name', models.CharField(blank=True, default='', max_length=255)),
                ('namespace_name', models.CharField(blank=True, default='', max_length=255)),
                ('user_id_scope', models.BigIntegerField(blank=True, help_text="A user's own entries (the user API).", null=True)),
                ('everything', models.BooleanField(default=False)),
                ('start', models.DateTimeField()),
                ('end', models.DateTimeField()),
                ('callback_url', models.URLField(blank=True, default='', max_length=2048)),
                ('callback_email', models.EmailField(blank=True, default='', max_length=254)),
                ('download_url', models.URLField(blank=True, default='', max_length=2048)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=16)),
                ('path', models.CharField(blank=True, default='', max_length=512)),
                ('location', models.CharField(blank=True, default='', max_length=64)),
                ('count', models.PositiveIntegerField(default=0)),
                ('size', models.BigIntegerField(default=0)),
                ('error', models.TextField(blank=True, default='')),
                ('delivery', models.TextField(blank=True, default='', help_text='What happened to the callback / e-mail.')),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('finished', models.DateTimeField(blank=True, null=True)),
                ('repository', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='repositories.repository')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ManifestPullStatistic',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('manifest_digest', models.CharField(max_length=255)),
                ('pull_count', models.BigIntegerField(default=0)),
                ('last_pulled', models.DateTimeField(blank=True, null=True)),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='repositories.repository')),
            ],
            options={
                'ordering': ['repository_id', 'manifest_digest'],
                'constraints': [models.UniqueConstraint(fields=('repository', 'manifest_digest'), name='manifestpullstat_repo_digest_uniq')],
            },
        ),
        migrations.CreateModel(
            name='TagPullStatistic',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tag_name', models.CharField(max_length=255)),
                ('pull_count', models.BigIntegerField(default=0)),
                ('last_pulled', models.DateTimeField(blank=True, null=True)),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='repositories.repository')),
            ],
            options={
                'ordering': ['repository_id', 'tag_name'],
                'constraints': [models.UniqueConstraint(fields=('repository', 'tag_name'), name='tagpullstat_repo_tag_uniq')],
            },
        ),
    ]
