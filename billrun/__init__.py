"""billrun: the application shell (settings, ASGI app, CLI, demo data) around schema/resolvers/domain/models."""

__version__ = "0.1.0"
