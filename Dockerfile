# The web console (console/, docs/CONSOLE.md), built from its lock file and the committed schema.
FROM node:20-slim AS console
WORKDIR /src
COPY schema.graphql ./
COPY console/package.json console/package-lock.json console/
RUN cd console && npm ci --no-audit --no-fund
COPY console console
RUN cd console && npm run build

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY billrun billrun
COPY schema schema
COPY resolvers resolvers
COPY domain domain
COPY models models
COPY workers workers
COPY --from=console /src/billrun/static/console billrun/static/console
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["billrun", "serve", "--host", "0.0.0.0"]
