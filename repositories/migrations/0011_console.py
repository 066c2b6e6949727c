from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("repositories", "0010_mirror")]

    operations = [
        migrations.CreateModel(
            name="RegistrySwitch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("read_only", models.BooleanField(default=False, help_text="Refuse every write until switched off.")),
                ("reason", models.CharField(blank=True, default="", help_text="Shown on the dashboard.", max_length=255)),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
                ("changed_by_name", models.CharField(blank=True, default="", max_length=255)),
            ],
            options={
                "verbose_name": "registry switch",
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="registryswitch_singleton")],
            },
        ),
    ]
