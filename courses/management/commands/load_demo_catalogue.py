"""`manage.py load_demo_catalogue`: the demo catalogue, into an empty catalogue only.

`make run` calls it every time; `loaddata demo_courses` would overwrite the demo rows on each run
and silently undo prices staff edited in the admin.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from courses.models import Course

FIXTURE = "demo_courses"


class Command(BaseCommand):
    help = "Load the demo catalogue (fixture demo_courses) if the catalogue is empty; otherwise leave it alone."

    def handle(self, *args, **options) -> None:
        if Course.objects.exists():
            self.stdout.write(f"The catalogue has {Course.objects.count()} course(s): demo catalogue not loaded.")
            return
        call_command("loaddata", FIXTURE, verbosity=0)
        self.stdout.write(f"Loaded the demo catalogue ({Course.objects.count()} courses).")
