"""Which broker carries the jobs: RabbitMQ for an amqp:// BILLRUN_BROKER_URL, else Redis (REDIS_URL or a
redis:// broker URL), else the embedded default's in-process broker; and this run uses the one it set up."""

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from pydantic import ValidationError

from billrun.settings import Settings
from tests.support import environment
from workers.broker import AsyncOrm, MessageLogContext, Sweeper, WorkerMetrics, build_broker


@pytest.mark.parametrize(("urls", "kind", "broker_class"), [
    ({"BILLRUN_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/x", "REDIS_URL": "redis://127.0.0.1:6379/11"},
     "rabbitmq", RabbitmqBroker),
    ({"BILLRUN_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/x"}, "rabbitmq", RabbitmqBroker),
    ({"REDIS_URL": "redis://127.0.0.1:6379/11"}, "redis", RedisBroker),
    ({"BILLRUN_BROKER_URL": "redis://127.0.0.1:6379/12", "REDIS_URL": "redis://127.0.0.1:6379/11"}, "redis",
     RedisBroker),
    ({}, "stub", StubBroker),
])
def test_the_broker_url_chooses_the_broker(urls: dict[str, str], kind: str, broker_class: type,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BILLRUN_BROKER_URL", "REDIS_URL", "BILLRUN_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, url in urls.items():
        monkeypatch.setenv(name, url)
    settings = Settings()
    assert settings.broker_kind == kind
    assert settings.embedded is (kind == "stub")
    broker = build_broker(settings)  # builds, connects to nothing yet
    assert type(broker) is broker_class
    middleware = {type(m) for m in broker.middleware}
    assert {WorkerMetrics, MessageLogContext} <= middleware
    assert ({AsyncOrm, Sweeper} <= middleware) is (kind != "stub")


def test_an_unknown_broker_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLRUN_BROKER_URL", "kafka://127.0.0.1:9092")
    with pytest.raises(ValidationError, match="amqp://"):
        Settings()


def test_this_run_uses_the_broker_it_set_up() -> None:
    from workers.broker import broker

    expected = RabbitmqBroker if environment.BROKER == "rabbitmq" else RedisBroker
    assert type(broker) is expected
