from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0008_logs_stats")]

    operations: list = []
