"""Create the three leaderboard flags, all off (contract section 5)."""

from django.db import migrations

FLAGS = {
    "LEADERBOARDS_COMPUTE_ENABLED": "Off: the engine returns empty boards (computation_enabled false).",
    "LEADERBOARDS_CACHE_ENABLED": "Off: boards are computed live; nothing is read from or stored in the cache.",
    "LEADERBOARDS_API_ENABLED": "Off: the three public leaderboard endpoints answer 503 FEATURE_DISABLED.",
}


def create_flags(apps, schema_editor):
    FeatureFlag = apps.get_model("common", "FeatureFlag")
    for name, description in FLAGS.items():
        FeatureFlag.objects.get_or_create(
            name=name,
            defaults={"is_enabled": False, "rollout_percent": 100, "description": description},
        )


def remove_flags(apps, schema_editor):
    FeatureFlag = apps.get_model("common", "FeatureFlag")
    FeatureFlag.objects.filter(name__in=FLAGS).delete()


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]

    operations = [migrations.RunPython(create_flags, remove_flags)]
