"""Retrieval for search_memory: BM25 and MiniLM embeddings (offline), with a fallback."""

from __future__ import annotations

import pytest

from deltamem_lib import retrieval
from deltamem_lib.memory import MemoryEntry
from deltamem_lib.retrieval import EmbeddingRetriever, LexicalRetriever, get_retriever

MEM = [MemoryEntry("m1", "User lives in Hamburg."), MemoryEntry("m2", "User works as a nurse at a hospital."),
       MemoryEntry("m3", "User has a cat named Mia."), MemoryEntry("m4", "User plays tennis on Sundays.")]


def test_lexical_ranks_by_shared_words_and_always_returns_k():
    hits = LexicalRetriever().search("my cat Mia is ill", MEM, top_k=3)
    assert [e.id for e, _ in hits][0] == "m3" and len(hits) == 3
    assert hits[0][1] > 0 and hits[1][1] == 0  # the rest fill up, newest first
    assert [e.id for e, _ in hits[1:]] == ["m4", "m2"]
    assert LexicalRetriever().search("anything", [], 5) == []
    assert LexicalRetriever().search("tennis", MEM, 0) == []


def test_lexical_idf_prefers_rare_words():
    mem = [MemoryEntry("m1", "User likes green tea."), MemoryEntry("m2", "User likes dogs."),
           MemoryEntry("m3", "User likes cats.")]
    assert LexicalRetriever().search("likes tea", mem, 1)[0][0].id == "m1"


def test_embedding_retriever_finds_meaning_offline():
    r = get_retriever("embedding")
    assert isinstance(r, EmbeddingRetriever)
    hits = r.search("Where does the user live? Which city?", MEM, top_k=2)
    assert hits[0][0].id == "m1"  # no shared content word: lexical could not do this
    assert r.search("pet", MEM, 1)[0][0].id == "m3"
    n = len(r._cache)
    r.search("pet", MEM, 1)
    assert len(r._cache) == n  # cached by text
    assert get_retriever("embedding") is r  # shared


def test_auto_falls_back_to_lexical(monkeypatch):
    monkeypatch.setattr(retrieval, "_SHARED", {})

    def broken(*a, **k):
        raise OSError("no model files")

    monkeypatch.setattr(retrieval, "EmbeddingRetriever", broken)
    r = get_retriever("auto")
    assert isinstance(r, LexicalRetriever) and "no model files" in r.fallback_reason
    with pytest.raises(ValueError):
        get_retriever("fuzzy")
