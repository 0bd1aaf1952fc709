"""Reading a Prometheus scrape back: a sample's value by name and labels."""

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` (0 when absent: a counter that never moved is not written)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def total(text: str, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and wanted <= ls)


def scrape(url: str, **headers: str) -> str:
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.text
