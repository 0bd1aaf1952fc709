"""The ASGI entry point for uvicorn (`billrun serve`): `billrun.asgi:app`."""

from billrun.app import create_app

app = create_app()
