from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Course catalogue"

    def ready(self) -> None:
        from . import text  # noqa: F401  (registers the SQLite fold function)
