"""Benchmark of the chat-export readers: rows per second and peak memory on large generated exports.

Generates, in a scratch folder that it removes afterwards:

1. a WeChat (WeChatMsg/MemoTrace) CSV of `--wechat-mb` (default 600 MB: the size of the 3.37-million-row export a
   WeChat-analysis project reports), the example workspace's invented chats repeated under new contacts;
2. a Telegram Desktop result.json of `--telegram-mb` (pretty-printed, entity lists included);
3. a WhatsApp Android export of `--whatsapp-mb` (multi-line messages, media and system lines).

Each is read in a fresh subprocess exactly as `ftrun` renders a conversation source without a template (read,
group into conversations, clean, scrub, write the examples, here to /dev/null), and its rows per second, the
conversations made and the process's peak memory (ru_maxrss) are printed beside the goals: streaming, and a peak
under 300 MB whatever the size. With `--prepare`, the WeChat file also goes through the whole `prepare` (render into
the cache, check every line, count tokens) in one more subprocess. Nothing is asserted: the figures are printed.

    python bench/export_bench.py [--wechat-mb 600] [--telegram-mb 100] [--whatsapp-mb 100] [--prepare] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEAK_GOAL_MB = 300


def _example_module() -> Any:
    spec = importlib.util.spec_from_file_location("wechat_example", ROOT / "scripts" / "wechat_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_telegram(path: Path, target_bytes: int) -> int:
    """A one-chat result.json, written as Telegram Desktop does (indented, one key per line)."""
    count = 0
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n "name": "Bench Chat",\n "type": "personal_chat",\n "id": 777,\n "messages": [\n')
        t = 1_700_000_000
        first = True
        while f.tell() < target_bytes:
            for i in range(1000):
                t += 45 if i % 6 else 5000
                mine = i % 3 == 2
                text: Any = (
                    ["see ", {"type": "link", "text": "https://example.org/a"}, " 好的 👍"]
                    if i % 5 == 0
                    else f"消息 {i}"
                )
                msg: dict[str, Any] = {
                    "id": count,
                    "type": "service" if i % 97 == 0 else "message",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)),
                    "date_unixtime": str(t),
                    "from": "Me" if mine else "Friend",
                    "from_id": "user1" if mine else "user2",
                    "text": text,
                    "text_entities": [],
                }
                if i % 41 == 0:
                    msg.update(photo="photos/p.jpg", text="")
                f.write(("" if first else ",\n") + json.dumps(msg, ensure_ascii=False, indent=1))
                first = False
                count += 1
        f.write("\n ]\n}\n")
    return count


def make_whatsapp(path: Path, target_bytes: int) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("1/1/20, 9:00 AM - Messages and calls are end-to-end encrypted.\n")
        t = 1_577_869_200
        while f.tell() < target_bytes:
            for i in range(1000):
                t += 40 if i % 6 else 4000
                stamp = time.strftime("%m/%d/%y, %I:%M %p", time.gmtime(t)).lstrip("0").replace(" 0", " ")
                who = "Me" if i % 3 == 2 else "Alice"
                text = "<Media omitted>" if i % 37 == 0 else f"message {i}\nsecond line 🙂" if i % 7 == 0 else "ok"
                f.write(f"{stamp} - {who}: {text}\n")
                count += 1
    return count


def read_child(path: str, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run in the subprocess: read, group, clean and render the way materialize does, to /dev/null."""
    import resource

    from runner.datasets.cleaning import Cleaning
    from runner.datasets.conversations import example_of
    from runner.datasets.sources import read_records

    cleaning = Cleaning()
    start = time.perf_counter()
    conversations = 0
    with open("/dev/null", "wb") as out:
        for record in read_records(Path(path), fmt, options, cleaning):
            out.write(example_of(record.fields, {"system": "bench"}).encode() + b"\n")
            conversations += 1
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "conversations": conversations, "peak_mb": peak, "cleaning": cleaning.to_doc()}


def prepare_child(path: str, cache: str) -> dict[str, Any]:
    import resource

    from runner.datasets import DataSpec, prepare

    root = Path(path).parent
    spec = DataSpec(source={"path": Path(path).name, "format": "wechat", "me": "林晓"}, vars={"system": "bench"})
    start = time.perf_counter()
    prepared = prepare(
        spec, None, root=root, cache_dir=Path(cache), experiment="bench", model="gpt-4.1-mini-2025-04-14",
        method="supervised",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ds = prepared.training
    return {
        "seconds": seconds,
        "peak_mb": own,
        "workers_peak_mb": workers,
        "examples": ds.examples if ds else 0,
        "tokens": ds.stats.total_tokens if ds and ds.stats else 0,
        "errors": [d.message for d in prepared.diagnostics if str(d.severity) == "error"],
    }


def in_child(function: str, *args: Any) -> dict[str, Any]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r}); "
        f"import export_bench as b; print(json.dumps(b.{function}(*json.loads(sys.argv[1]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"the {function} subprocess failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(name: str, path: Path, rows: int, res: dict[str, Any]) -> None:
    mb = path.stat().st_size / 1e6
    rate = rows / res["seconds"]
    ok = "ok" if res["peak_mb"] < PEAK_GOAL_MB else "OVER"
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(res["cleaning"]["skipped"].items()))
    scrubbed = ", ".join(f"{k} {v:,}" for k, v in sorted(res["cleaning"]["scrubbed"].items())) or "none"
    seconds = res["seconds"]
    print(f"{name}: {mb:,.0f} MB, {rows:,} rows in {seconds:.1f} s = {rate:,.0f} rows/s ({mb / seconds:.1f} MB/s)")
    print(f"  {res['conversations']:,} conversations; left out: {skipped}; scrubbed: {scrubbed}")
    print(f"  peak memory {res['peak_mb']:.0f} MB (goal: under {PEAK_GOAL_MB} MB whatever the size) {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wechat-mb", type=float, default=600)
    parser.add_argument("--telegram-mb", type=float, default=100)
    parser.add_argument("--whatsapp-mb", type=float, default=100)
    parser.add_argument("--prepare", action="store_true", help="also run the whole prepare() on the WeChat file")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="ftrun-export-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        if args.wechat_mb > 0:
            path = scratch / "wechat.csv"
            start = time.perf_counter()
            rows = _example_module().write_large(path, int(args.wechat_mb * 1e6))
            print(f"generated {path.name}: {rows:,} rows in {time.perf_counter() - start:.0f} s")
            report("wechat", path, rows, in_child("read_child", str(path), "wechat", {"me": "林晓"}))
            if args.prepare:
                res = in_child("prepare_child", str(path), str(scratch / "cache"))
                errors = "; errors: " + "; ".join(res["errors"]) if res["errors"] else ""
                print(
                    f"  prepare (render, check, count tokens): {res['seconds']:.1f} s, {res['examples']:,} examples,"
                    f" {res['tokens']:,} tokens; peak {res['peak_mb']:.0f} MB"
                    f" (scan workers {res['workers_peak_mb']:.0f} MB){errors}"
                )
        if args.telegram_mb > 0:
            path = scratch / "result.json"
            rows = make_telegram(path, int(args.telegram_mb * 1e6))
            report("telegram", path, rows, in_child("read_child", str(path), "telegram", {"me": "Me"}))
        if args.whatsapp_mb > 0:
            path = scratch / "chat.txt"
            rows = make_whatsapp(path, int(args.whatsapp_mb * 1e6))
            report("whatsapp", path, rows, in_child("read_child", str(path), "whatsapp", {"me": "Me"}))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
