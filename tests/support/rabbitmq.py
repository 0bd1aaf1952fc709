"""The session's own RabbitMQ virtual host (BILLRUN_TEST_BROKER=rabbitmq), made and dropped with `rabbitmqctl`
(RabbitMQ runs on this machine and in CI; `scripts/ensure_services.sh` starts it)."""

import subprocess


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def recreate_vhost(name: str) -> None:
    """A fresh, empty virtual host that the guest user may use: no queue or message of an earlier run."""
    drop_vhost(name)
    _ctl("add_vhost", name)
    _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def drop_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
