from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('repositories', '0008_logs_stats'),
    ]

    operations = [
        migrations.CreateModel(
            name='GcRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started', models.DateTimeField(db_index=True)),
                ('finished', models.DateTimeField(blank=True, null=True)),
                ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='running', max_length=16)),
                ('trigger', models.CharField(choices=[('periodic', 'Periodic (worker)'), ('command', 'manage.py gc'), ('admin', 'Admin action'), ('purge', 'Repository or namespace purge')], default='periodic', max_length=16)),
                ('dry_run', models.BooleanField(default=False)),
                ('scope', models.CharField(blank=True, default='', max_length=255)),
                ('tags_examined', models.BigIntegerField(default=0)),
                ('tags_deleted', models.BigIntegerField(default=0)),
                ('manifests_examined', models.BigIntegerField(default=0)),
                ('manifests_deleted', models.BigIntegerField(default=0)),
                ('blobs_examined', models.BigIntegerField(default=0)),
                ('blobs_deleted', models.BigIntegerField(default=0)),
                ('uploads_deleted', models.BigIntegerField(default=0)),
                ('bytes_reclaimed', models.BigIntegerField(default=0)),
                ('errors', models.JSONField(blank=True, default=list)),
            ],
            options={
                'verbose_name': 'garbage collection run',
                'ordering': ['-started', '-id'],
            },
        ),
        migrations.AddField(
            model_name='repository',
            name='deleted_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
    ]
