"""Pipeline {{ cookiecutter.__folder }}."""
