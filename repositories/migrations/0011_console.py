from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0010_mirror")]

    operations: list = []
