"""Small workspaces on disk for tests."""

from __future__ import annotations

import json
from pathlib import Path


def chat_lines(n: int, tag: str = "q") -> str:
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": f"{tag} question {i}?"},
                    {"role": "assistant", "content": f"answer {i}."},
                ]
            }
        )
        + "\n"
        for i in range(n)
    )


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def experiment(self, name: str, body: str) -> Path:
        return self.write(f"experiments/{name}.yaml", body)

    def state_bytes(self, target: str = "local") -> bytes | None:
        path = self.root / "state" / f"{target}.json"
        return path.read_bytes() if path.exists() else None
