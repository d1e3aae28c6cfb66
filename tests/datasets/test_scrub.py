"""Personal data in chat exports is scrubbed by default: replaced by typed placeholders, counted, and never found in
the rendered bytes, the plan, the state or the upload."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import pipeline
from runner.apply import Applier, Silent
from runner.cli import cli
from runner.datasets import render_bytes
from runner.datasets.cleaning import Cleaning
from runner.datasets.records import DataSpec
from runner.datasets.scrub import KINDS, Scrubber, parse_kinds
from runner.datasets.sources import SourceError, read_records
from runner.plan import make_plan
from runner.remote import RemoteFile
from runner.state import StateStore
from runner.workspace import load_workspace

SECRETS = {
    "phone": ["13812345678", "+86 139 1234 5678", "(555) 123-4567", "+44 20 7946 0958", "010-87654321"],
    "email": ["li.lei+work@example.com", "wang_01@mail.example.org"],
    "id_number": ["110105199003071234", "44030419851231002X"],
    "bank_card": ["6222 0212 3456 7890 123", "4111111111111111"],
    "secret": ["hunter2!", "Sp@ce2024", "A1b2C3d4"],
}
TEXTS = [
    "我的手机号是13812345678，有事打给我",
    "call +86 139 1234 5678 or (555) 123-4567",
    "London office: +44 20 7946 0958, Beijing 010-87654321",
    "邮箱 li.lei+work@example.com / wang_01@mail.example.org",
    "身份证号110105199003071234，另一个44030419851231002X",
    "卡号 6222 0212 3456 7890 123，信用卡4111111111111111",
    "wifi password=hunter2! 记住",
    "服务器密码是Sp@ce2024，别外传",
    "验证码：A1b2C3d4",
]


def scrub(text: str, kinds: object = True) -> tuple[str, Counter[str]]:
    counts: Counter[str] = Counter()
    return Scrubber(parse_kinds(kinds), counts)(text), counts


def test_each_kind_becomes_its_placeholder() -> None:
    out, counts = scrub("\n".join(TEXTS))
    for values in SECRETS.values():
        for value in values:
            assert value not in out
    assert counts == Counter(phone=5, email=2, id_number=2, bank_card=2, secret=3)
    assert "我的手机号是[PHONE]，有事打给我" in out and "wifi password=[SECRET] 记住" in out
    assert "服务器密码是[SECRET]，别外传" in out and "身份证号[ID_NUMBER]，" in out


@pytest.mark.parametrize(
    "text",
    [
        "会议改到2024-03-01 10:15，三楼",
        "价格1999元，订单20231231",
        "version 1.2.3 released 12/31/23",
        "42 GB in 11 minutes, room 303",
        "forgot my password again",  # no value after a separator
        "拍一拍 [微笑]",
    ],
)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
    assert scrub(text) == (text, Counter())


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=80), st.sampled_from(sorted(v for vs in SECRETS.values() for v in vs)), st.text(max_size=20))
def test_a_value_anywhere_in_a_text_is_gone(before: str, value: str, after: str) -> None:
    # separated from its neighbours, as people write them
    out, counts = scrub(f"{before} {value} {after}" if not value[0].isalpha() else f"{before} pwd: {value} {after}")
    assert value not in out and sum(counts.values()) >= 1


def test_scrub_can_be_narrowed_or_turned_off() -> None:
    text = "mail li@example.com, phone 13812345678"
    assert scrub(text, ["email"]) == ("mail [EMAIL], phone 13812345678", Counter(email=1))
    assert scrub(text, False) == (text, Counter())
    assert parse_kinds(None) == frozenset(KINDS)
    with pytest.raises(ValueError, match="did you mean 'phone'"):
        parse_kinds(["phon"])
    with pytest.raises(ValueError, match="true, false or a list"):
        parse_kinds(3)


WECHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime"


def wechat_export(n: int) -> str:
    """n conversations, each with one of TEXTS from the contact and one from me."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    buf.write(WECHAT_HEADER + "\n")
    t = 1_700_000_000
    for i in range(n):
        theirs, mine = TEXTS[i % len(TEXTS)], TEXTS[(i + 3) % len(TEXTS)]
        writer.writerow([2 * i, "wxid_friend", 1, 0, 0, t, 2, f"{i}号: {theirs}", ""])
        writer.writerow([2 * i + 1, "wxid_friend", 1, 0, 1, t + 60, 2, f"收到{i}: {mine}", ""])
        t += 7200
    return buf.getvalue()


def test_reader_counts_and_scrub_false_keeps_values() -> None:
    data = wechat_export(9).encode()
    cleaning = Cleaning()
    records = list(read_records(data, "wechat", {}, cleaning))
    text = json.dumps([r.fields for r in records], ensure_ascii=False)
    assert all(v not in text for vs in SECRETS.values() for v in vs)
    assert cleaning.scrubbed == Counter(phone=10, email=4, id_number=4, bank_card=4, secret=6)
    kept = json.dumps([r.fields for r in read_records(data, "wechat", {"scrub": False})], ensure_ascii=False)
    assert "13812345678" in kept
    with pytest.raises(SourceError, match="did you mean 'email'"):
        list(read_records(data, "wechat", {"scrub": ["emails"]}))


class RecordingProvider(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def upload_file(self, path: Path, filename: str, on_sent: Callable[[int], None] | None = None) -> RemoteFile:
        self.sent.append(path.read_bytes())
        return super().upload_file(path, filename, on_sent)


def test_scrubbed_values_reach_no_output(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "experiments").mkdir()
    (root / "ftrun.yaml").write_text("workspace: privacy\ndefaults: {model: local/tiny, seed: 1}\n")
    (root / "data" / "wechat.csv").write_text(wechat_export(12), encoding="utf-8")
    (root / "experiments" / "me.yaml").write_text(
        "training_file:\n  source: {path: data/wechat.csv, format: wechat}\n  vars: {system: 我}\n", encoding="utf-8"
    )
    values = [v for vs in SECRETS.values() for v in vs]

    def clean(blob: bytes | str, what: str) -> None:
        text = blob.decode() if isinstance(blob, bytes) else blob
        leaked = [v for v in values if v in text]
        assert not leaked, f"{what} holds {leaked}"

    ws = load_workspace(root)
    target = ws.target()
    loaded = pipeline.load(ws, target)
    counts = {d.check: d.message for d in loaded.diagnostics if d.check and d.check.startswith("scrubbed_")}
    assert counts["scrubbed_phone"].startswith("15 phone value(s) scrubbed")
    assert set(counts) == {f"scrubbed_{k}" for k in KINDS}

    (desired,) = loaded.desired
    clean(desired.training.path.read_bytes(), "the rendered file")
    clean(render_bytes(DataSpec(source={"path": "data/wechat.csv", "format": "wechat"}), root), "render_bytes")

    remote = RecordingProvider()
    store = StateStore(root / "state" / "local.json")
    state = store.load_or_new("local")
    plan = make_plan(
        loaded.desired,
        state,
        pipeline.snapshot(remote, state, ws),
        target="local",
        endpoint="test",
        workspace=ws.name,
        diagnostics=loaded.diagnostics,
    )
    clean(json.dumps(plan.to_dict(), ensure_ascii=False), "the plan")
    Applier(store, remote, ws.name, {"me": desired}, Silent(), state).apply(plan)
    assert len(remote.sent) == 1 and b"[PHONE]" in remote.sent[0]
    clean(remote.sent[0], "the upload")
    clean((root / "state" / "local.json").read_bytes(), "the state")

    for args in (["validate"], ["validate", "--json"], ["plan"], ["plan", "--json"], ["render", "me"]):
        result = CliRunner().invoke(cli, ["--no-color", "-C", str(root), *args])
        clean(result.output, f"ftrun {' '.join(args)}")
    result = CliRunner().invoke(cli, ["--no-color", "-C", str(root), "validate"])
    assert "15 phone value(s) scrubbed (personal data) (scrubbed_phone)" in result.output
