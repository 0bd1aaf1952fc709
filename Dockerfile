FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY billrun billrun
COPY schema schema
COPY resolvers resolvers
COPY domain domain
COPY models models
COPY workers workers
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["billrun", "serve", "--host", "0.0.0.0"]
