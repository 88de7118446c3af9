"""Runtime helpers shared by the city hall's Prefect pipelines."""
