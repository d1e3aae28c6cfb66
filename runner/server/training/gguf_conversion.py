"""Models given as a GGUF file, converted once into a Hugging Face directory that trains and serves like any other.

transformers reads GGUF (with the `gguf` and `accelerate` packages) by dequantising every tensor; the model it
returns still counts as quantised and refuses `save_pretrained`. A plain model built from the same config, without its
`quantization_config`, takes the loaded weights and saves, reloads and trains offline. The directory is named by the
sha256 of the GGUF file, so a file is converted once however often (or under whatever name) it is used.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from pathlib import Path

from runner.server.training import TrainingFailed

SUFFIX = ".gguf"


def is_gguf(path: Path) -> bool:
    return path.suffix.lower() == SUFFIX and path.is_file()


def sha256_of(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # a file's hash, remembered while it is unchanged
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def converted_directory(gguf_file: Path, root: Path) -> Path:
    """The Hugging Face directory for `gguf_file` under `root`, converting it first when it is not there yet."""
    target = root / sha256_of(gguf_file)
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".tmp", dir=root))  # one per converting thread
    try:
        _convert(gguf_file, partial)
        try:
            partial.rename(target)
        except OSError:  # another process finished the same conversion first: keep its directory
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _convert(gguf_file: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        quantised = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    except ImportError as exc:
        raise TrainingFailed(
            "model_not_found",
            f"Reading {gguf_file.name} needs the 'gguf' and 'accelerate' packages: pip install 'ftrun[pretrained]'"
            f" ({exc})",
            "model",
        ) from None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise TrainingFailed(
            "model_not_found", f"{gguf_file} is not a GGUF model transformers can read: {exc}"
        ) from None
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=quantised.dtype)
    plain.load_state_dict(quantised.state_dict())
    plain.generation_config = quantised.generation_config
    out_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
