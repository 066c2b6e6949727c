from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0007_lifecycle_quotas")]

    operations: list = []
