#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 when they are down (CI and the development machines run all three).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Starting PostgreSQL..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis..."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
echo "Redis: $(redis-cli -h 127.0.0.1 -p 6379 ping)"

if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "Starting RabbitMQ..."
  rabbitmq-server -detached
  for _ in $(seq 1 60); do rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
fi
rabbitmqctl -q await_startup --timeout 60 && echo "RabbitMQ: running"
