from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0009_gc")]

    operations: list = []
