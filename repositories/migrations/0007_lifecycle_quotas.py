import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("repositories", "0006_notifications")]

    operations = [
        migrations.CreateModel(
            name='AutoPrunePolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('method', models.CharField(choices=[('number_of_tags', 'Number of tags'), ('creation_date', 'Creation date')], max_length=16)),
                ('value', models.CharField(max_length=32)),
                ('tag_pattern', models.CharField(blank=True, default='', max_length=255)),
                ('tag_pattern_matches', models.BooleanField(default=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('last_run', models.DateTimeField(blank=True, null=True)),
                ('namespace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='autoprune_policies', to='accounts.namespace')),
                ('repository', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='autoprune_policies', to='repositories.repository')),
            ],
            options={
                'verbose_name_plural': 'auto-prune policies',
                'ordering': ['created', 'id'],
            },
        ),
        migrations.CreateModel(
            name='NamespaceQuota',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('limit_bytes', models.BigIntegerField()),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('namespace', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='quota', to='accounts.namespace')),
            ],
        ),
        migrations.CreateModel(
            name='NamespaceUsage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('size_bytes', models.BigIntegerField(default=0)),
                ('notified_level', models.PositiveSmallIntegerField(default=0)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('recomputed_at', models.DateTimeField(blank=True, null=True)),
                ('namespace', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='usage', to='accounts.namespace')),
            ],
        ),
        migrations.CreateModel(
            name='RepositoryUsage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('size_bytes', models.BigIntegerField(default=0)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('repository', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='usage', to='repositories.repository')),
            ],
        ),
        migrations.CreateModel(
            name='ImmutabilityPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('tag_pattern', models.CharField(max_length=255)),
                ('tag_pattern_matches', models.BooleanField(default=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('namespace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='immutability_policies', to='accounts.namespace')),
                ('repository', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='immutability_policies', to='repositories.repository')),
            ],
            options={
                'verbose_name_plural': 'immutability policies',
                'ordering': ['created', 'id'],
                'indexes': [models.Index(fields=['namespace', 'repository'], name='immutability_scope_idx')],
            },
        ),
        migrations.CreateModel(
            name='QuotaLimit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('type', models.CharField(choices=[('Warning', 'Warning'), ('Reject', 'Reject')], max_length=8)),
                ('threshold_percent', models.PositiveIntegerField()),
                ('quota', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='limits', to='repositories.namespacequota')),
            ],
            options={
                'ordering': ['threshold_percent', 'id'],
                'constraints': [models.UniqueConstraint(fields=('quota', 'type', 'threshold_percent'), name='quota_limit_unique'), models.CheckConstraint(condition=models.Q(('threshold_percent__gte', 1)), name='quota_limit_percent_positive')],
            },
        ),
    ]
