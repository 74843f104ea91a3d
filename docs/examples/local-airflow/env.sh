# Source it in the folder that holds it (`source env.sh`), in every shell that runs `airflow` for this try.

# This try's Airflow lives in this folder: your own ~/airflow is neither read nor written.
export AIRFLOW_HOME="$PWD/airflow-home"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
# The UI and its API on this machine only (Airflow's default, 0.0.0.0, is every network interface).
export AIRFLOW__API__HOST=127.0.0.1
# No example DAGs: they bring Airflow's example listener plugin, and Airflow refuses a DAG that uses
# end_from_trigger=True while a listener is installed.
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# The connection the DAG uses (cfw_default), pointing at the emulator, with the AK/SK that
# emulator.json declares.
export AIRFLOW_CONN_CFW_DEFAULT='{"conn_type": "huaweicloud_cfw",
  "login": "EXAMPLEAK00000000000", "password": "EXAMPLEsecretKey-not-a-real-key-000000000",
  "extra": {"region": "cn-north-4", "project_id": "0123456789abcdef0123456789abcdef",
            "endpoint": "http://127.0.0.1:8999", "iam_endpoint": "http://127.0.0.1:8999"}}'
