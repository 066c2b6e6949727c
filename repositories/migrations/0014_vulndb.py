"""The vulnerability database (issue 8): OSV records, their affected packages, import runs."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0013_org_mirror")]

    operations = [
        migrations.CreateModel(
            name='Vulnerability',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('osv_id', models.CharField(max_length=200, unique=True)),
                ('aliases', models.JSONField(blank=True, default=list)),
                ('summary', models.TextField(blank=True, default='')),
                ('details', models.TextField(blank=True, default='')),
                ('severity', models.CharField(default='Unknown', max_length=16)),
                ('cvss_vector', models.CharField(blank=True, default='', max_length=200)),
                ('cvss_score', models.FloatField(blank=True, null=True)),
                ('published', models.DateTimeField(blank=True, null=True)),
                ('modified', models.DateTimeField()),
                ('references', models.JSONField(blank=True, default=list)),
                ('source', models.CharField(blank=True, default='', max_length=200)),
                ('imported_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name_plural': 'vulnerabilities',
                'ordering': ['osv_id'],
            },
        ),
        migrations.CreateModel(
            name='VulnerabilityImport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(max_length=1000)),
                ('started', models.DateTimeField()),
                ('finished', models.DateTimeField(blank=True, null=True)),
                ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='running', max_length=16)),
                ('records', models.PositiveIntegerField(default=0)),
                ('added', models.PositiveIntegerField(default=0)),
                ('updated', models.PositiveIntegerField(default=0)),
                ('unchanged', models.PositiveIntegerField(default=0)),
                ('withdrawn', models.PositiveIntegerField(default=0)),
                ('malformed', models.PositiveIntegerField(default=0)),
                ('skipped', models.PositiveIntegerField(default=0, help_text='records of ecosystems not imported')),
                ('errors', models.JSONField(blank=True, default=list)),
                ('error', models.TextField(blank=True, default='')),
            ],
            options={
                'ordering': ['-started'],
                'indexes': [models.Index(fields=['status', '-finished'], name='vulndb_import_status_fin')],
            },
        ),
        migrations.CreateModel(
            name='AffectedPackage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ecosystem', models.CharField(max_length=100)),
                ('ecosystem_raw', models.CharField(blank=True, default='', max_length=200)),
                ('name', models.CharField(max_length=300)),
                ('purl', models.CharField(blank=True, default='', max_length=500)),
                ('ranges', models.JSONField(blank=True, default=list)),
                ('versions', models.JSONField(blank=True, default=list)),
                ('fixed_version', models.CharField(blank=True, default='', max_length=200)),
                ('severity', models.CharField(blank=True, default='', max_length=16)),
                ('vulnerability', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='affected', to='repositories.vulnerability')),
            ],
            options={
                'indexes': [models.Index(fields=['ecosystem', 'name'], name='vulndb_affected_eco_name')],
            },
        ),
    ]
