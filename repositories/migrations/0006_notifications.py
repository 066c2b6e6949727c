import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_robot_unstructured_metadata'),
        ('repositories', '0005_storage'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='NamespaceNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('title', models.CharField(blank=True, default='', max_length=255)),
                ('event', models.CharField(choices=[('repo_push', 'Push to repository'), ('repo_image_expiry', 'Image expiry trigger'), ('vulnerability_found', 'Package vulnerability found'), ('repo_mirror_sync_started', 'Repository mirror started'), ('repo_mirror_sync_success', 'Repository mirror successful'), ('repo_mirror_sync_failed', 'Repository mirror unsuccessful'), ('quota_warning', 'Quota warning'), ('quota_error', 'Quota error')], max_length=64)),
                ('event_config', models.JSONField(blank=True, default=dict)),
                ('method', models.CharField(choices=[('webhook', 'Webhook POST'), ('email', 'E-mail'), ('slack', 'Slack notification'), ('quay_notification', 'In-app notification')], max_length=32)),
                ('config', models.JSONField(blank=True, default=dict)),
                ('secret', models.CharField(blank=True, default='', max_length=255)),
                ('number_of_failures', models.PositiveIntegerField(default=0)),
                ('enabled', models.BooleanField(default=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('namespace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='accounts.namespace')),
            ],
            options={
                'ordering': ['created', 'id'],
            },
        ),
        migrations.CreateModel(
            name='NotificationDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('event', models.CharField(max_length=64)),
                ('payload', models.JSONField(default=dict)),
                ('is_test', models.BooleanField(default=False)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('succeeded', 'Delivered'), ('failed', 'Failed')], db_index=True, default='pending', max_length=16)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True, default='')),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('finished', models.DateTimeField(blank=True, null=True)),
                ('namespace_notification', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='repositories.namespacenotification')),
            ],
            options={
                'verbose_name_plural': 'notification deliveries',
                'ordering': ['-created', '-id'],
            },
        ),
        migrations.CreateModel(
            name='NotificationDeliveryAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('succeeded', models.BooleanField()),
                ('http_status', models.PositiveIntegerField(blank=True, null=True)),
                ('error', models.TextField(blank=True, default='')),
                ('duration_ms', models.PositiveIntegerField(default=0)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='repositories.notificationdelivery')),
            ],
            options={
                'ordering': ['created', 'id'],
            },
        ),
        migrations.CreateModel(
            name='RepositoryNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('title', models.CharField(blank=True, default='', max_length=255)),
                ('event', models.CharField(choices=[('repo_push', 'Push to repository'), ('repo_image_expiry', 'Image expiry trigger'), ('vulnerability_found', 'Package vulnerability found'), ('repo_mirror_sync_started', 'Repository mirror started'), ('repo_mirror_sync_success', 'Repository mirror successful'), ('repo_mirror_sync_failed', 'Repository mirror unsuccessful'), ('quota_warning', 'Quota warning'), ('quota_error', 'Quota error')], max_length=64)),
                ('event_config', models.JSONField(blank=True, default=dict)),
                ('method', models.CharField(choices=[('webhook', 'Webhook POST'), ('email', 'E-mail'), ('slack', 'Slack notification'), ('quay_notification', 'In-app notification')], max_length=32)),
                ('config', models.JSONField(blank=True, default=dict)),
                ('secret', models.CharField(blank=True, default='', max_length=255)),
                ('number_of_failures', models.PositiveIntegerField(default=0)),
                ('enabled', models.BooleanField(default=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='repositories.repository')),
            ],
            options={
                'ordering': ['created', 'id'],
            },
        ),
        migrations.AddField(
            model_name='notificationdelivery',
            name='repository_notification',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='repositories.repositorynotification'),
        ),
        migrations.CreateModel(
            name='TagExpiryNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tag_row_id', models.BigIntegerField()),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('notification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='expiry_notices', to='repositories.repositorynotification')),
            ],
        ),
        migrations.CreateModel(
            name='UserNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('kind', models.CharField(max_length=64)),
                ('metadata', models.JSONField(blank=True, default=dict)),
                ('dismissed', models.BooleanField(default=False)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('target_namespace', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='inbox', to='accounts.namespace')),
                ('target_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='inbox', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'in-app notification',
                'ordering': ['-created', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='namespacenotification',
            index=models.Index(fields=['namespace', 'event'], name='ns_notification_event_idx'),
        ),
        migrations.AddIndex(
            model_name='repositorynotification',
            index=models.Index(fields=['repository', 'event'], name='repo_notification_event_idx'),
        ),
        migrations.AddIndex(
            model_name='notificationdelivery',
            index=models.Index(fields=['status', 'next_attempt_at'], name='notif_delivery_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='notificationdelivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('namespace_notification__isnull', True), ('repository_notification__isnull', False)), models.Q(('namespace_notification__isnull', False), ('repository_notification__isnull', True)), _connector='OR'), name='notification_delivery_has_one_owner'),
        ),
        migrations.AddConstraint(
            model_name='tagexpirynotice',
            constraint=models.UniqueConstraint(fields=('notification', 'tag_row_id'), name='tag_expiry_notice_once'),
        ),
        migrations.AddIndex(
            model_name='usernotification',
            index=models.Index(condition=models.Q(('target_user__isnull', False)), fields=['target_user', 'dismissed'], name='inbox_user_idx'),
        ),
        migrations.AddConstraint(
            model_name='usernotification',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('target_namespace__isnull', True), ('target_user__isnull', False)), models.Q(('target_namespace__isnull', False), ('target_user__isnull', True)), _connector='OR'), name='user_notification_has_one_target'),
        ),
    ]
