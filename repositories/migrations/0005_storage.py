from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repositories", "0004_label_star")]

    operations: list = []
