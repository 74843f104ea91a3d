"""End-to-end runs of a real Airflow stack (api-server, scheduler, dag-processor, triggerer) and the emulator."""
