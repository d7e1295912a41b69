# The simulator with the example scenario; see compose.yml for a distributed run.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md config.yaml ./
COPY assume assume
COPY distributed_simulation distributed_simulation
COPY examples examples
RUN pip install --no-cache-dir ".[postgres]"
# the example package reads this configuration (its input_path is relative to it)
ENV CONFIG=/app/config.yaml
CMD ["assume", "--config", "/app/config.yaml", "-csv", "/app/outputs"]
