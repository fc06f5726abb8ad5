# socpipe workers: one image, the command picks the stage.
# Built in two stages: the first has a C compiler, so the wheel carries the Sigma prefilter compiled by
# mypyc (hatch_build.py; without a compiler it would install as pure Python, same answers, slower); the
# image itself has none.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
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
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /app /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && useradd --system socpipe
USER socpipe
ENTRYPOINT ["socpipe"]
