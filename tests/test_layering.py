"""The layout holds: dependencies point one way, and database-specific SQL lives in `models/` only.

schema → resolvers → domain → models; workers → domain → models. The inner layers (models, domain, workers) never
import the GraphQL edge (schema, resolvers), and read of the shell only its configuration, its wake-up signal and its
metrics (workers also its database and logging set-up). `schema/` and `resolvers/` together are the GraphQL edge:
resolvers build the schema's input and payload types. A test, not a convention: a change that imports upwards or
writes SQL outside `models/` fails here, naming the line.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each package may import of billrun's own packages.
ALLOWED = {
    "models": {"models"},
    "domain": {"domain", "models"},
    "workers": {"workers", "domain", "models"},
}
OWN = {"billrun", "schema", "resolvers", "domain", "models", "workers"}
SHELL_ALLOWED = {"models": {"billrun.settings"},
                 "domain": {"billrun.settings", "billrun.wakeups", "billrun.metrics"},
                 "workers": {"billrun.settings", "billrun.wakeups", "billrun.metrics", "billrun.db", "billrun.logs"}}

SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|FOR\s+(NO\s+KEY\s+)?UPDATE"
                 r"|FOR\s+SHARE)\b", re.IGNORECASE | re.DOTALL)
SQL_CALLS = {"execute_query", "execute_script", "execute_many", "execute_query_dict", "copy_records_to_table"}


def _sources(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_dependencies_point_one_way() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in _sources(package):
            for line, module in _imports(ast.parse(path.read_text())):
                top = module.split(".")[0]
                shell = ".".join(module.split(".")[:2])
                if top in OWN and top not in allowed and shell not in SHELL_ALLOWED[package]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert wrong == []


def test_database_specific_sql_lives_in_models() -> None:
    wrong = []
    for package in ("domain", "resolvers", "schema", "workers"):
        for path in _sources(package):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL text")
                elif isinstance(node, ast.Attribute) and node.attr in SQL_CALLS:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.attr}")
    assert wrong == []


def test_the_checks_see_a_violation() -> None:
    """The patterns are live: they catch what they are meant to catch."""
    assert SQL.search("SELECT id FROM billing WHERE id = $1 FOR UPDATE")
    assert SQL.search("update periodic_billing set status = 'NEW'")
    assert not SQL.search("Select the billings to update")
    tree = ast.parse("from schema.query import Query\nimport resolvers.billing\n")
    assert [m for _, m in _imports(tree)] == ["schema.query.Query", "resolvers.billing"]


# A sleep outside a polling loop, each with why no condition can be waited for instead.
FIXED_SLEEPS_ALLOWED = {
    ("tests/test_idempotency.py", "await asyncio.sleep(0.3)"):
        "proves a retry is still waiting on a lock: the absence of an answer has no event to wait for",
    ("tests/test_subscription_hub.py", "await asyncio.sleep(delay)"):
        "subscribers register at seeded random moments while the producer writes",
}


def test_tests_wait_for_conditions_not_fixed_sleeps() -> None:
    """Every `sleep` in the suites is the pause of a loop that polls a condition with a deadline, or allowed above
    with its reason; none is a second or more."""
    wrong = []
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text())
        loops = [n for n in ast.walk(tree) if isinstance(n, ast.While | ast.For | ast.AsyncFor)]
        in_loop = {id(child) for loop in loops for child in ast.walk(loop)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sleep"):
                continue
            where = (str(path.relative_to(ROOT)), f"await {ast.unparse(node)}")
            seconds = node.args[0] if node.args else None
            constant = seconds.value if isinstance(seconds, ast.Constant) else None
            too_long = isinstance(constant, int | float) and constant >= 1
            if too_long or (id(node) not in in_loop and where not in FIXED_SLEEPS_ALLOWED):
                wrong.append(f"{where[0]}:{node.lineno} {ast.unparse(node)}")
    assert wrong == []
