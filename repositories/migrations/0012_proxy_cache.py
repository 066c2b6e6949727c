"""Pull-through proxy cache organizations: ProxyCacheConfig, ProxyCachedTag, ProxyPendingManifest."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0011_console")]

    operations = [
        migrations.CreateModel(
            name='ProxyCacheConfig',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('upstream_registry', models.CharField(help_text='host[:port][/namespace], e.g. docker.io or registry.example.com/library', max_length=512)),
                ('username_encrypted', models.TextField(blank=True, default='')),
                ('password_encrypted', models.TextField(blank=True, default='')),
                ('insecure', models.BooleanField(default=False, help_text='skip TLS verification (and allow plain HTTP)')),
                ('expiration_s', models.PositiveIntegerField(default=86400, help_text='seconds a cached tag is served before the upstream is asked again')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('organization', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='proxy_cache', to='organizations.organization')),
            ],
            options={
                'verbose_name': 'proxy cache configuration',
            },
        ),
        migrations.CreateModel(
            name='ProxyCachedTag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=255)),
                ('digest', models.CharField(max_length=150)),
                ('checked_at', models.DateTimeField()),
                ('pulled_at', models.DateTimeField()),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='proxy_tags', to='repositories.repository')),
            ],
            options={
                'indexes': [models.Index(fields=['pulled_at'], name='proxy_tag_pulled_idx')],
                'constraints': [models.UniqueConstraint(fields=('repository', 'name'), name='proxy_tag_unique_name')],
            },
        ),
        migrations.CreateModel(
            name='ProxyPendingManifest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(max_length=150)),
                ('media_type', models.CharField(max_length=255)),
                ('content', models.BinaryField()),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='proxy_pending_manifests', to='repositories.repository')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('repository', 'digest'), name='proxy_pending_unique_digest')],
            },
        ),
    ]
