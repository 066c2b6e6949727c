from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0005_storage")]

    operations: list = []
