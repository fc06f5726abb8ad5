# socpipe workers: one image, the command picks the stage.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md hatch_build.py ./
COPY socpipe socpipe
COPY schemas schemas
COPY ingest ingest
COPY detectors detectors
COPY responders responders
COPY cli cli
COPY devtools devtools
COPY rules rules
COPY samples samples
COPY deploy deploy
RUN pip install --no-cache-dir . && useradd --system socpipe
USER socpipe
ENTRYPOINT ["socpipe"]
