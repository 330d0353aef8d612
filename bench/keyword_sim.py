"""A keyword search the core does not have: BM25 over FTS5 with very common query terms dropped.

The core ORs every term of the question (``fts_query``); FTS5 then scores every chunk holding any
of them, so one term found in most chunks ("模型" in an LLM corpus) makes a query cost time
linear in the whole store. Dropping the terms found in more than ``max_df_chunks`` chunks bounds
that cost; such terms carry little BM25 weight in a large store (FTS5 floors a negative idf at
~0), and a store smaller than the cap is searched exactly as today. This reads the store's SQLite
file through its own read-only connection, with document frequencies from FTS5's ``fts5vocab``
table; it measures a proposed core change and is not used by the product.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest.keywords import keyword_tokens
from ingest.store import DB_NAME

MAX_DF_CHUNKS = 5_000


class PrunedKeywordSearch:
    """``keyword_search`` with terms found in more than ``max_df_chunks`` chunks left out."""

    def __init__(self, folder: Path, max_df_chunks: int = MAX_DF_CHUNKS) -> None:
        self.max_df_chunks = max_df_chunks
        self._db = sqlite3.connect(f"file:{folder / DB_NAME}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'chunks_fts', 'row')")

    def expression(self, query: str) -> str:
        """The FTS5 MATCH expression: the question's distinct terms that are not too common."""
        frequency = {}
        for term in dict.fromkeys(keyword_tokens(query)):
            row = self._db.execute("SELECT doc FROM temp.vocab WHERE term = ?", (term,)).fetchone()
            if row is not None:
                frequency[term] = int(row[0])
        kept = [t for t, df in frequency.items() if df <= self.max_df_chunks]
        if not kept and frequency:  # every term is common: keep the rarest rather than find nothing
            kept = [min(frequency, key=frequency.__getitem__)]
        return " OR ".join('"' + t.replace('"', '""') + '"' for t in kept)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first, as ``KnowledgeBase.keyword_search``."""
        expression = self.expression(query)
        if not expression or k <= 0:
            return []
        rows = self._db.execute(
            "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s DESC LIMIT ?",
            (expression, k),
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def close(self) -> None:
        self._db.close()
