from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0006_notifications")]

    operations: list = []
