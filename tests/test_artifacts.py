"""The files other people rely on stay true: schema.graphql, migrations, docker-compose.yml, GraphiQL offline."""

import re
import subprocess
import sys
from pathlib import Path

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from billrun import db
from schema import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_graphql_matches_the_code() -> None:
    exported = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert exported == schema.as_str() + "\n", "schema.graphql drifted: run `make schema`"


async def test_migrations_match_the_models() -> None:
    apps_config = {db.APP_LABEL: db.tortoise_config()["apps"][db.APP_LABEL]}
    autodetector = MigrationAutodetector(Tortoise.apps, apps_config)
    writers = await autodetector.changes()
    operations = [op.describe() for writer in writers for op in writer.operations]
    assert operations == [], f"models and migrations disagree, run `make migrations`: {operations}"


def test_every_schema_type_and_field_is_documented() -> None:
    undocumented = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID", "Date", "DateTime",
                                             "Decimal", "JSON", "PageInfo", "Node"}:
            continue
        if not graphql_type.description:
            undocumented.append(name)
        for field_name, field in (getattr(graphql_type, "fields", None) or {}).items():
            if not field.description:
                undocumented.append(f"{name}.{field_name}")
    assert undocumented == []


def test_docker_compose_names_only_existing_commands() -> None:
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    commands = re.findall(r"command:\s*\[?\s*\"?billrun\"?,?\s*\"?([\w-]+)\"?", compose)
    assert set(commands) >= {"serve", "worker", "migrate"}
    for command in commands:
        result = subprocess.run([sys.executable, "-m", "billrun", command, "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (command, result.stderr)


def test_cli_lists_the_production_entry_points() -> None:
    result = subprocess.run([sys.executable, "-m", "billrun", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    for command in ("serve", "worker", "migrate", "demo", "token"):
        assert command in result.stdout
    token = subprocess.run([sys.executable, "-m", "billrun", "token", "create", "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert token.returncode == 0 and "--permission" in token.stdout


async def test_graphiql_page_loads_nothing_from_outside(client) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    external = re.findall(r"""(?:src|href)\s*=\s*["'](https?://[^"']+)""", page.text)
    assert external == []
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page.text)
    assets = re.findall(r"""(?:src|href)\s*=\s*["'](/static/graphiql/[^"']+)""", page.text)
    assert len(assets) == 7
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100, asset
