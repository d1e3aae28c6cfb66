#!/usr/bin/env python3
"""Write the example workspace's WeChat export (data/wechat_export.csv): invented people, invented chats.

It has the shape WeChatMsg/MemoTrace export (localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,
StrTime,Remark,NickName,Sender): one-to-one chats and a group, Chinese, English and emoji, stickers, photos and a
voice message (Type 47, 3, 34), a system notice (Type 10000), a phone number and a password that the reader scrubs,
and an unanswered last message. `write_large` repeats the same chats under many contacts for the benchmark.

    python scripts/wechat_example.py [OUT]     # default: data/wechat_export.csv
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

HEADER = [
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime",
    "Remark", "NickName", "Sender",
]  # fmt: skip

# (talker id, remark, nickname) of invented contacts; a TalkerId ending in @chatroom is a group
MUM = ("wxid_mama2024", "妈妈", "Meihua")
WANG = ("wxid_wangpeng88", "小王同事", "Peng")
CHEN = ("wxid_chenchen_cc", "陈晨", "CC🌸")
GROUP = ("20745512345@chatroom", "周末爬山群", "")
GROUP_MEMBERS = {"wxid_hiker_zhao": "赵磊", "wxid_hiker_sun": "孙悦"}

# Each session: (contact, minutes after the previous session, messages). A message is (seconds after the session's
# previous message, who: "me", "them" or a group member's wxid, Type, text).
T, IMG, VOICE, STICKER, SYSTEM = "1", "3", "34", "47", "10000"
# fmt: off
SESSIONS: list[tuple[tuple[str, str, str], int, list[tuple[int, str, str, str]]]] = [
    (MUM, 0, [
        (0, "them", T, "晓晓，周末回家吃饭吗？"),
        (40, "them", T, "你爸说想吃你包的饺子"),
        (300, "me", T, "回！周六中午到 😊"),
        (20, "me", T, "我带点水果回去"),
        (60, "them", T, "好的，路上小心"),
        (30, "me", T, "知道啦"),
    ]),
    (WANG, 180, [
        (0, "them", T, "林晓，下午的评审会改到三点了"),
        (90, "me", T, "收到，我把幻灯片再过一遍"),
        (30, "them", STICKER, "<msg><emoji md5=\"a1b2\"/></msg>"),
        (45, "them", T, "对了，客户的电话是13912345678，你联系一下"),
        (120, "me", T, "好的，我会后打给他"),
    ]),
    (CHEN, 240, [
        (0, "them", T, "Are we still on for hotpot tonight? 🍲"),
        (60, "me", T, "Yes! 7pm at the usual place?"),
        (40, "them", T, "Perfect, I'll book a table"),
        (15, "them", IMG, "<img/>"),
        (25, "them", T, "[图片]"),
        (30, "me", T, "哈哈看起来好辣 🌶️"),
    ]),
    (GROUP, 60, [
        (0, "wxid_hiker_zhao", T, "这周六去香山，早上七点集合？"),
        (30, "wxid_hiker_sun", T, "我可以！带了新买的登山杖"),
        (200, "me", T, "算我一个，我带三明治"),
        (20, "wxid_hiker_zhao", T, "太好了，天气预报说是晴天☀️"),
        (60, "me", T, "那记得带防晒"),
        (0, "system", SYSTEM, "\"赵磊\"修改群名为\"周末爬山群\""),
    ]),
    (MUM, 600, [
        (0, "them", T, "到家了吗？"),
        (120, "me", T, "到了，刚进门"),
        (30, "them", VOICE, "<voicemsg/>"),
        (60, "them", T, "早点休息"),
        (20, "me", T, "嗯嗯，晚安妈妈"),
    ]),
    (WANG, 900, [
        (0, "them", T, "服务器的登录密码是 Spring2024!，用完记得改"),
        (50, "me", T, "好，我登录看看日志"),
        (600, "me", T, "找到问题了，是磁盘满了"),
        (45, "them", T, "厉害！要扩容吗？"),
        (80, "me", T, "先清理一下旧日志，下周再申请扩容"),
    ]),
    (CHEN, 1440, [
        (0, "them", T, "昨天的火锅太好吃了"),
        (30, "them", T, "下次换你选地方 😄"),
        (90, "me", T, "没问题，我知道一家新开的烤肉店"),
        (40, "them", T, "Deal!"),
        (25, "me", T, "周五晚上？"),
        (30, "them", T, "周五可以"),
        (20, "me", T, "那就这么定了"),
    ]),
    (GROUP, 300, [
        (0, "wxid_hiker_sun", T, "到山顶啦！风景超棒"),
        (20, "wxid_hiker_sun", IMG, "<img/>"),
        (45, "me", T, "我还在半山腰 😂 等我二十分钟"),
        (30, "wxid_hiker_zhao", T, "加油，我们在亭子这边"),
        (40, "me", T, "马上到"),
    ]),
    (WANG, 2000, [
        (0, "them", T, "周报写好了吗？"),
        (100, "me", T, "写好了，刚发到你邮箱"),
        (50, "them", T, "收到，谢谢"),
        (30, "me", T, "不客气，有问题随时说"),
    ]),
    (MUM, 1800, [
        (0, "them", T, "你表妹下个月结婚，你能请假回来吗？"),
        (200, "me", T, "我问问领导，应该可以"),
        (60, "them", T, "好，定了告诉我"),
        (30, "me", T, "好的"),
    ]),
    (CHEN, 2500, [
        (0, "them", T, "Can you recommend a good book? 📚"),
        (120, "me", T, "《三体》！科幻迷必读"),
        (40, "them", T, "I've heard of it, is the English translation good?"),
        (60, "me", T, "Yes, Ken Liu's translation is excellent"),
    ]),
    (WANG, 3000, [
        (0, "them", T, "明天的需求评审你参加吗"),
        (60, "me", T, "参加，几点开始？"),
        (30, "them", T, "上午十点，三楼会议室"),
        (20, "me", T, "好，我准时到"),
    ]),
    (GROUP, 4000, [
        (0, "wxid_hiker_zhao", T, "下个月去爬泰山怎么样？"),
        (40, "wxid_hiker_sun", T, "好啊，我想看日出🌅"),
        (120, "me", T, "日出要半夜出发哦，大家能行吗"),
        (30, "wxid_hiker_sun", T, "为了日出拼了！"),
        (60, "me", T, "那我来查一下车票"),
    ]),
    (MUM, 2200, [
        (0, "them", T, "天冷了，多穿点衣服"),
        (90, "me", T, "知道啦，你和爸爸也注意保暖"),
        (40, "them", T, "我们都好，不用担心"),
        (30, "me", T, "周末给你们打视频"),
    ]),
    (CHEN, 1500, [
        (0, "them", T, "我要搬家了，周日能来帮忙吗？"),
        (80, "me", T, "可以呀，几点？"),
        (30, "them", T, "早上九点，我请你吃午饭"),
        (25, "me", T, "成交 👍"),
    ]),
    (WANG, 1200, [
        (0, "them", T, "上线成功了！🎉"),
        (40, "me", T, "太好了，辛苦大家"),
        (30, "them", T, "晚上一起吃个饭庆祝一下？"),
        (30, "me", T, "好啊，我来订位子"),
        (600, "them", T, "订好了告诉我地址"),  # my last reply was before this: left out as trailing
    ]),
    (MUM, 5000, [
        (0, "them", T, "你寄的茶叶收到了，很好喝"),
    ]),  # never answered: no conversation
]
# fmt: on

START = datetime(2024, 3, 1, 8, 30, tzinfo=UTC) - timedelta(hours=8)  # StrTime is Beijing time


def rows(copies: int = 1) -> Iterator[list[str]]:
    """The export's rows; with copies > 1 the chats are repeated under new contacts, later in time."""
    local_id = 0
    when = START
    for copy in range(copies):
        suffix = f"_{copy}" if copy else ""
        for (talker, remark, nick), gap, messages in SESSIONS:
            when += timedelta(minutes=gap)
            talker_id = talker.replace("@", f"{suffix}@") if "@" in talker else talker + suffix
            for seconds, who, msg_type, text in messages:
                when += timedelta(seconds=seconds)
                local_id += 1
                is_me = who == "me"
                group = talker.endswith("@chatroom")
                sender = "" if is_me or not group else who
                content = text
                if group and not is_me and who in GROUP_MEMBERS and local_id % 2 == 0:
                    content, sender = f"{who}:\n{text}", ""  # older exports: the sender opens the content
                shown = (when + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
                yield [
                    str(local_id), talker_id, msg_type, "0", "1" if is_me else "0", str(int(when.timestamp())),
                    "2", content, shown,
                    remark if not group else "", nick if not group else GROUP_MEMBERS.get(who, ""), sender,
                ]  # fmt: skip
        when += timedelta(days=1)


def write(out: TextIO, copies: int = 1) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(copies))


def write_large(path: Path, target_bytes: int) -> int:
    """A file of at least `target_bytes`: the example's chats repeated under new contacts; returns its row count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows(copies=1 << 40):
            writer.writerow(row)
            count += 1
            if count % 10_000 == 0 and f.tell() >= target_bytes:
                break
    return count


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data/wechat_export.csv"
    with target.open("w", encoding="utf-8", newline="") as f:
        write(f)
    print(f"wrote {target}")
