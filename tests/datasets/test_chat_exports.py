"""Chat exports as people have them (WeChat, chatlog, Telegram, WhatsApp) become conversations with the right roles,
and every message left out is counted by reason."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.datasets.cleaning import Cleaning
from runner.datasets.exports import whatsapp
from runner.datasets.sources import SourceError, read_records

WECHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"


def wechat_csv(*rows: tuple[Any, ...], header: str = WECHAT_HEADER) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    buf.write(header + "\n")
    for row in rows:
        writer.writerow(row)
    return buf.getvalue().encode()


def read(data: bytes | Path, fmt: str, **options: Any) -> tuple[list[dict[str, Any]], Cleaning]:
    cleaning = Cleaning()
    records = [{"line": r.line, **r.fields} for r in read_records(data, fmt, options, cleaning)]
    return records, cleaning


def turns(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record["messages"]]


def test_wechat_export_streams_per_talker_with_media_system_and_group_senders() -> None:
    # rows of two chats interleaved in time, as a whole-database export writes them
    data = wechat_csv(
        (1, "wxid_mum", 1, 0, 0, 1709253000, 2, "周末回家吃饭吗？", "2024-03-01 08:30:00", "妈妈", "Meihua", ""),
        (2, "grp1@chatroom", 1, 0, 0, 1709253005, 2, "wxid_zhao:\n明天爬山？", "2024-03-01 08:30:05", "", "赵磊", ""),
        (3, "wxid_mum", 3, 0, 0, 1709253010, 2, "<img/>", "2024-03-01 08:30:10", "妈妈", "Meihua", ""),
        (4, "wxid_mum", 1, 0, 0, 1709253020, 2, "你爸想吃饺子 🥟", "2024-03-01 08:30:20", "妈妈", "Meihua", ""),
        (5, "grp1@chatroom", 1, 0, 0, 1709253030, 2, "我去！", "2024-03-01 08:30:30", "", "孙悦", "wxid_sun"),
        (6, "wxid_mum", 1, 0, 1, 1709253100, 2, "回！😊", "2024-03-01 08:31:40", "妈妈", "Meihua", ""),
        (7, "grp1@chatroom", 10000, 0, 0, 1709253101, 2, "赵磊邀请你加入了群聊", "2024-03-01 08:31:41", "", "", ""),
        (8, "grp1@chatroom", 1, 0, 1, 1709253200, 2, "算我一个", "2024-03-01 08:33:20", "", "", ""),
        (9, "wxid_mum", 1, 0, 1, 1709253210, 2, "[表情]", "2024-03-01 08:33:30", "妈妈", "Meihua", ""),
        (10, "wxid_mum", 1, 0, 0, 1709253300, 2, "好的", "2024-03-01 08:35:00", "妈妈", "Meihua", ""),
    )
    records, cleaning = read(data, "wechat", me="林晓")
    assert [(r["line"], r["chat"]) for r in records] == [(2, "wxid_mum"), (3, "grp1@chatroom")]
    mum, group = records
    assert turns(mum) == [("user", "周末回家吃饭吗？\n你爸想吃饺子 🥟"), ("assistant", "回！😊")]
    assert mum["participants"] == ["妈妈"] and mum["start"] == "2024-03-01T08:30:00"
    # a group: the others' messages make one user turn saying who spoke
    assert turns(group) == [("user", "赵磊: 明天爬山？\n孙悦: 我去！"), ("assistant", "算我一个")]
    assert group["participants"] == ["赵磊", "孙悦"]
    assert dict(cleaning.skipped) == {"media": 2, "wrong_type": 1, "after_last_reply": 1}


def test_older_wechat_exports_stop_after_strtime_and_fall_back_to_createtime() -> None:
    header = WECHAT_HEADER.rsplit(",Remark", 1)[0]
    data = wechat_csv(
        (1, "wxid_b", 1, 0, 0, 1700000000, 2, "hi", ""),
        (2, "wxid_b", 1, 0, 1, 1700000060, 2, "hello", ""),
        header=header,
    )
    (record,), _ = read(data, "wechat")
    assert turns(record) == [("user", "hi"), ("assistant", "hello")]
    assert record["start"] == "2023-11-14T22:13:20" and record["participants"] == ["wxid_b"]


def test_chatlog_csv_and_json() -> None:
    text = (
        "Time,SenderName,Sender,TalkerName,Talker,Content\n"
        "2024-05-01 10:00:00,老周,wxid_zhou,老周,wxid_zhou,五一去哪玩？\n"
        "2024-05-01 10:01:00,我,wxid_me,老周,wxid_zhou,[图片]\n"
        "2024-05-01 10:02:00,我,wxid_me,老周,wxid_zhou,在家休息 😴\n"
    )
    records, cleaning = read(text.encode(), "chatlog", me="wxid_me")
    assert [turns(r) for r in records] == [[("user", "五一去哪玩？"), ("assistant", "在家休息 😴")]]
    assert dict(cleaning.skipped) == {"media": 1}
    messages = [
        {"time": "2024-05-01T10:00:00+08:00", "talker": "t1", "talkerName": "Ann", "sender": "ann",
         "senderName": "Ann", "isSelf": False, "type": 1, "content": "lunch?"},
        {"time": "2024-05-01T10:00:30+08:00", "talker": "t1", "sender": "ann", "senderName": "Ann",
         "isSelf": False, "type": 3, "content": ""},
        {"time": "2024-05-01T10:01:00+08:00", "talker": "t1", "sender": "me", "senderName": "Me",
         "isSelf": True, "type": 1, "content": "sure, 12:30"},
    ]  # fmt: skip
    records, cleaning = read(json.dumps(messages, indent=2).encode(), "chatlog")
    assert [turns(r) for r in records] == [[("user", "lunch?"), ("assistant", "sure, 12:30")]]
    assert records[0]["line"] == 2 and dict(cleaning.skipped) == {"wrong_type": 1}


def telegram_export(messages: list[dict[str, Any]], **chat: Any) -> bytes:
    doc = {"name": "Bob", "type": "personal_chat", "id": 4242, **chat, "messages": messages}
    return json.dumps(doc, indent=1, ensure_ascii=False).encode()


def test_telegram_entity_lists_service_messages_and_media() -> None:
    data = telegram_export(
        [
            {"id": 1, "type": "service", "date": "2024-01-01T10:00:00", "actor": "Bob", "action": "phone_call"},
            {"id": 2, "type": "message", "date": "2024-01-01T10:00:05", "from": "Bob", "from_id": "user42",
             "text": ["look at ", {"type": "link", "text": "https://example.org"}, " — ",
                      {"type": "bold", "text": "今天"}, "!"]},
            {"id": 3, "type": "message", "date": "2024-01-01T10:00:09", "from": "Bob", "from_id": "user42",
             "photo": "photos/1.jpg", "text": ""},
            {"id": 4, "type": "message", "date": "2024-01-01T10:01:00", "from": "Ann", "from_id": "user7",
             "text": "nice 👍"},
        ]
    )  # fmt: skip
    for me in ("Ann", "user7", "7"):
        records, cleaning = read(data, "telegram", me=me)
        assert [turns(r) for r in records] == [
            [("user", "look at https://example.org — 今天!"), ("assistant", "nice 👍")]
        ]
        assert records[0]["chat"] == "Bob (4242)" and records[0]["line"] == 13  # where message 2 opens
        assert dict(cleaning.skipped) == {"wrong_type": 1, "media": 1}


def test_telegram_account_export_keeps_each_chat_apart() -> None:
    def chat(name: str, hour: int) -> dict[str, Any]:
        return {
            "name": name,
            "type": "personal_chat",
            "id": hour,
            "messages": [
                {"id": 1, "type": "message", "date": f"2024-02-0{hour}T10:00:00", "from": name,
                 "from_id": f"user{hour}", "text": f"hi from {name}"},
                {"id": 2, "type": "message", "date": f"2024-02-0{hour}T10:00:30", "from": "Me",
                 "from_id": "user1", "text": f"hi {name}"},
            ],
        }  # fmt: skip

    doc = {"about": "export", "chats": {"about": "", "list": [chat("Ann", 2), chat("Bo", 3)]}}
    records, _ = read(json.dumps(doc, indent=1).encode(), "telegram", me="Me")
    assert [(r["chat"], turns(r)) for r in records] == [
        ("Ann (2)", [("user", "hi from Ann"), ("assistant", "hi Ann")]),
        ("Bo (3)", [("user", "hi from Bo"), ("assistant", "hi Bo")]),
    ]


ANDROID = """\
12/31/23, 10:15 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.
12/31/23, 10:15 PM - Alice: Happy new year's eve!
Are you coming tonight?
12/31/23, 10:16 PM - Alice: <Media omitted>
12/31/23, 10:20 PM - Bob: Yes!
I'll bring 🍾
1/13/24, 9:00 AM - Alice: thanks for coming
1/13/24, 9:05 AM - Bob: anytime
1/13/24, 9:06 AM - Alice: see you
"""

IOS = """\
\u200e[31/12/2023, 22:15:03] Alice: \u200eMessages and calls are end-to-end encrypted.
[31/12/2023, 22:15:10] Alice: 新年快乐！
今晚来吗？
[31/12/2023, 22:16:00] Alice: \u200eimage omitted
[31/12/2023, 22:20:45] Bob: 来！🎉
[13/01/2024, 09:00:00] Alice: thanks
"""


def test_whatsapp_android_multiline_media_and_system_lines() -> None:
    records, cleaning = read(ANDROID.encode(), "whatsapp", me="Bob")
    assert [(r["line"], turns(r)) for r in records] == [
        (2, [("user", "Happy new year's eve!\nAre you coming tonight?"), ("assistant", "Yes!\nI'll bring 🍾")]),
        (7, [("user", "thanks for coming"), ("assistant", "anytime")]),
    ]
    assert records[0]["start"] == "2023-12-31T22:15:00" and records[1]["start"] == "2024-01-13T09:00:00"
    assert dict(cleaning.skipped) == {"wrong_type": 1, "media": 1, "after_last_reply": 1}


def test_whatsapp_ios_day_first_detected_or_set() -> None:
    records, cleaning = read(IOS.encode(), "whatsapp", me="Bob")
    assert [turns(r) for r in records] == [[("user", "新年快乐！\n今晚来吗？"), ("assistant", "来！🎉")]]
    assert records[0]["start"] == "2023-12-31T22:15:10"
    assert dict(cleaning.skipped) == {"wrong_type": 1, "media": 1, "no_reply": 1}
    ambiguous = "[01/02/2024, 10:00:00] Alice: hi\n[01/02/2024, 10:01:00] Bob: hey\n"
    with pytest.raises(SourceError, match="date_order"):
        read(ambiguous.encode(), "whatsapp", me="Bob")
    (month_first,), _ = read(ambiguous.encode(), "whatsapp", me="Bob", date_order="month_first")
    (day_first,), _ = read(ambiguous.encode(), "whatsapp", me="Bob", date_order="day_first")
    assert (month_first["start"], day_first["start"]) == ("2024-01-02T10:00:00", "2024-02-01T10:00:00")


def test_chat_exports_read_the_same_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes(ANDROID.encode())
    assert read(path, "whatsapp", me="Bob")[0] == read(ANDROID.encode(), "whatsapp", me="Bob")[0]


def test_duplicates_long_messages_and_empty_ones_are_counted() -> None:
    data = wechat_csv(
        (1, "wxid_b", 1, 0, 0, 1700000000, 2, "hi", ""),
        (1, "wxid_b", 1, 0, 0, 1700000000, 2, "hi", ""),  # the same row twice (two exports merged)
        (2, "wxid_b", 1, 0, 0, 1700000001, 2, "x" * 50, ""),
        (3, "wxid_b", 1, 0, 0, 1700000002, 2, "   ", ""),
        (4, "wxid_b", 1, 0, 1, 1700000060, 2, "hello", ""),
        header=WECHAT_HEADER.rsplit(",Remark", 1)[0],
    )
    (record,), cleaning = read(data, "wechat", max_message_chars=20)
    assert turns(record) == [("user", "hi"), ("assistant", "hello")]
    assert dict(cleaning.skipped) == {"duplicate": 1, "too_long": 1, "empty": 1}


@pytest.mark.parametrize(
    ("fmt", "data", "options", "line", "words"),
    [
        ("wechat", b"time,sender,text\n2024-01-01 10:00,a,b\n", {}, 1, "looks like a chat_history file"),
        ("wechat", b"foo,bar\n1,2\n", {}, 1, "not a wechat export: the header is not"),
        (
            "chatlog",
            (WECHAT_HEADER + "\n").encode(),
            {"me": "x"},
            1,
            "looks like a wechat file (format: wechat)",
        ),
        (
            "chat_history",
            wechat_csv((1, "wxid_b", 1, 0, 0, 1700000000, 2, "hi", "", "", "", "")),
            {"me": "x"},
            2,
            "no column 'time'; it looks like a wechat file (format: wechat)",
        ),
        ("telegram", b'{"name": "x",\n "type": "personal_chat"\n}\n', {"me": "x"}, 1, "has no `messages` list"),
        ("telegram", b"[1, 2]", {"me": "x"}, 1, "has no `messages` list"),
        ("telegram", b'{"messages": [\n{"type": "message",,}]}', {"me": "x"}, 2, "not valid JSON"),
        ("whatsapp", b"hello there\n", {"me": "x"}, 1, "not a WhatsApp message line"),
        (
            "whatsapp",
            b"12/31/23, 10:15 PM - A: hi\n[31/12/2023, 22:15:03] B: hey\n",
            {"me": "B"},
            2,
            "a WhatsApp line in an unknown form",
        ),
        ("whatsapp", b'[{"instruction": "a", "output": "b"}]', {"me": "x"}, 1, "looks like a alpaca file"),
        ("whatsapp", b"12/31/23, 10:15 PM - A: hi\n", {}, None, "needs `me`"),
        ("wechat", b"x\n", {"mee": "x"}, None, "did you mean 'me'"),
        ("wechat", b"x\n", {"scrub": ["emial"]}, None, "did you mean 'email'"),
    ],
)
def test_bad_input_is_one_error_naming_the_line(
    fmt: str, data: bytes, options: dict[str, Any], line: int | None, words: str
) -> None:
    with pytest.raises(SourceError) as info:
        read(data, fmt, **options)
    assert words in str(info.value)
    assert info.value.line == line


line_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters="\u200e\u202f\x85"),
    min_size=1,
    max_size=15,
).filter(lambda t: t.strip() == t and not t[0].isdigit() and not t.startswith("["))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.lists(line_text, min_size=1, max_size=3)), min_size=1, max_size=8),
    st.booleans(),
)
def test_whatsapp_lines_round_trip(messages: list[tuple[bool, list[str]]], ios: bool) -> None:
    """Messages written in either form, over several lines, read back with their sender and text."""
    out = []
    start = datetime(2024, 1, 13, 9, 0)
    for i, (mine, lines) in enumerate(messages):
        when = start + timedelta(minutes=i)
        who = "Me" if mine else "Ann Lee"
        if ios:
            stamp = f"[{when:%d/%m/%Y, %H:%M:%S}] "
        else:
            ampm = "AM" if when.hour < 12 else "PM"
            stamp = f"{when.month}/{when.day}/{when:%y}, {when.hour % 12 or 12}:{when:%M} {ampm} - "
        out.append(f"{stamp}{who}: " + "\n".join(lines))
    cleaning = Cleaning()
    got = list(whatsapp.messages("\n".join(out).encode(), whatsapp.WhatsappOptions({"me": "Me"}), cleaning))
    assert [(m.is_me, m.sender, m.text) for m in got] == [
        (mine, "Me" if mine else "Ann Lee", "\n".join(lines)) for mine, lines in messages
    ]
    assert [m.when for m in got] == [start + timedelta(minutes=i) for i in range(len(messages))]
