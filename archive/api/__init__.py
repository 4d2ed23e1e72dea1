"""The retrieval API: a thin FastAPI app over the retrieve/usage services (``archive serve``)."""

from archive.api.app import create_app

__all__ = ["create_app"]
