"""Automatic persisted queries (Apollo's protocol): a client sends `extensions.persistedQuery {version: 1,
sha256Hash}` and no `query`; a document this process knows by that hash runs as if it had been sent. An unknown
hash answers `PersistedQueryNotFound` (HTTP 200, code `PERSISTED_QUERY_NOT_FOUND`); the client then sends the
document with its hash, which is checked (a mismatch is refused, 400) and kept for the next time.

Resolved here, before anything else reads the request, a persisted document is an ordinary one from then on:
its size, tokens, depth, aliases, repeats, ids and cost limits, validation, authentication, masking and
idempotency apply to it exactly as to one sent in full. The store is per API process, bounded
(BILLRUN_PERSISTED_QUERIES_MAX, least recently used dropped first): a client sent to another process, or whose
document was dropped, is told `PersistedQueryNotFound` and sends it again. Only documents within
BILLRUN_MAX_QUERY_BYTES are kept.
"""

import hashlib
import re
from collections import OrderedDict
from dataclasses import replace

from strawberry.http import GraphQLRequestData

from billrun.settings import get_settings

NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}  # a "not found" must not be cached on the way
SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class PersistedQueryNotFound(Exception):
    """The hash names no document this process knows: the client sends the document with it."""


class BadPersistedQuery(ValueError):
    """A malformed `persistedQuery` extension, or a document that does not have the hash it claims."""


class PersistedDocuments:
    """Documents by the sha256 of their text, at most `size`, least recently used dropped first."""

    def __init__(self) -> None:
        self._documents: OrderedDict[str, str] = OrderedDict()

    def get(self, sha: str) -> str | None:
        document = self._documents.get(sha)
        if document is not None:
            self._documents.move_to_end(sha)
        return document

    def put(self, sha: str, document: str) -> None:
        size = get_settings().persisted_queries_max
        self._documents[sha] = document
        self._documents.move_to_end(sha)
        while len(self._documents) > size:
            self._documents.popitem(last=False)

    def clear(self) -> None:
        self._documents.clear()


DOCUMENTS = PersistedDocuments()


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


def is_persisted(data: GraphQLRequestData) -> bool:
    """Whether the request names its document by a persisted hash (with its text or without)."""
    return isinstance((data.extensions or {}).get("persistedQuery"), dict)


def resolve(data: GraphQLRequestData) -> GraphQLRequestData:
    """The request with its persisted document filled in; unchanged without a `persistedQuery` extension."""
    persisted = (data.extensions or {}).get("persistedQuery")
    if persisted is None:
        return data
    sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(sha, str) \
            or not SHA256.fullmatch(sha):
        raise BadPersistedQuery("extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<the sha256 "
                                "of the document, 64 hexadecimal digits>\"}.")
    sha = sha.lower()
    if data.query is not None:
        if sha256_of(data.query) != sha:
            raise BadPersistedQuery("provided sha does not match query")
        if len(data.query.encode("utf-8", "surrogatepass")) <= get_settings().max_query_bytes:
            DOCUMENTS.put(sha, data.query)
        return data
    document = DOCUMENTS.get(sha)
    if document is None:
        raise PersistedQueryNotFound
    return replace(data, query=document)
