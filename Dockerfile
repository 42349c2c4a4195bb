# Vigía on Airflow 3.3: the official image, the project's locked requirements, and its code.
# docker-compose.yml builds it (`docker compose build`); docs/deployment.md ("Running Vigía as a service") explains the setup.
FROM apache/airflow:3.3.2

# requirements.txt is uv.lock exported (`uv export --frozen --no-dev --no-hashes --no-emit-project
# -o requirements.txt`; tests/test_compose.py fails when the two disagree). It pins apache-airflow
# itself, so installing it cannot move Airflow away from the image's version. Copied and installed
# before the code, so a code change does not reinstall every package.
COPY --chown=airflow:0 requirements.txt /opt/vigia/requirements.txt
RUN pip install --no-cache-dir -r /opt/vigia/requirements.txt

# Where the pipeline writes: the DuckDB file and staging (data/), the lake's Parquet files (lake/).
# Compose mounts named volumes there; a new volume takes this ownership (the airflow user, group 0
# with group write, so any AIRFLOW_UID in group 0 can write, as in Airflow's own compose file).
USER root
RUN mkdir -p /opt/vigia/data /opt/vigia/lake \
    && chown -R airflow:0 /opt/vigia \
    && chmod -R g+rwX /opt/vigia
USER airflow

COPY --chown=airflow:0 feeds.toml /opt/vigia/feeds.toml
COPY --chown=airflow:0 seeds /opt/vigia/seeds
COPY --chown=airflow:0 sql /opt/vigia/sql
COPY --chown=airflow:0 pipeline /opt/vigia/pipeline
COPY --chown=airflow:0 dags /opt/vigia/dags

# The repository's layout under /opt/vigia: pipeline/ finds sql/ and seeds/ beside itself.
ENV PYTHONPATH=/opt/vigia \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/vigia/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    VIGIA_FEEDS=/opt/vigia/feeds.toml \
    VIGIA_DB=/opt/vigia/data/vigia.duckdb
