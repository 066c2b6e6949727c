import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0014_vulndb")]

    operations = [
        migrations.CreateModel(
            name='LayerIndex',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(max_length=150, unique=True)),
                ('indexer_version', models.IntegerField()),
                ('status', models.CharField(choices=[('indexed', 'Indexed'), ('unsupported', 'Unsupported')], default='indexed', max_length=12)),
                ('reason', models.TextField(blank=True, default='')),
                ('content', models.JSONField(blank=True, default=dict)),
                ('package_count', models.IntegerField(default=0)),
                ('size', models.BigIntegerField(default=0)),
                ('duration_ms', models.IntegerField(default=0)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'layer index',
                'verbose_name_plural': 'layer index cache',
            },
        ),
        migrations.CreateModel(
            name='ManifestFinding',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('vulnerability_id', models.CharField(max_length=128)),
                ('package', models.JSONField(default=dict)),
                ('package_name', models.CharField(max_length=255)),
                ('package_version', models.CharField(max_length=255)),
                ('ecosystem', models.CharField(max_length=64)),
                ('severity', models.CharField(max_length=16)),
                ('severity_index', models.SmallIntegerField(default=6)),
                ('summary', models.TextField(blank=True, default='')),
                ('fixed_version', models.CharField(blank=True, default='', max_length=255)),
                ('aliases', models.JSONField(blank=True, default=list)),
                ('links', models.JSONField(blank=True, default=list)),
                ('first_seen', models.DateTimeField()),
                ('manifest', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='security_findings', to='repositories.manifest')),
            ],
            options={
                'indexes': [models.Index(fields=['manifest', 'severity_index'], name='manifest_finding_sev_idx')],
            },
        ),
        migrations.CreateModel(
            name='ManifestScan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('in_progress', 'In progress'), ('scanned', 'Scanned'), ('failed', 'Failed'), ('unsupported', 'Unsupported')], default='queued', max_length=12)),
                ('reason', models.TextField(blank=True, default='')),
                ('attempts', models.IntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('indexer_version', models.IntegerField(default=0)),
                ('distro', models.CharField(blank=True, default='', max_length=64)),
                ('packages', models.JSONField(blank=True, default=list)),
                ('package_count', models.IntegerField(default=0)),
                ('pushed_at', models.DateTimeField(db_index=True)),
                ('queued_at', models.DateTimeField()),
                ('scanned_at', models.DateTimeField(blank=True, null=True)),
                ('matched_at', models.DateTimeField(blank=True, null=True)),
                ('manifest', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='security_scan', to='repositories.manifest')),
            ],
            options={
                'indexes': [models.Index(fields=['status', 'pushed_at'], name='manifest_scan_queue_idx')],
            },
        ),
    ]
