"""Text normalization before tokenizing (tokenize_feature's `text_normalizer`), on whole Arrow columns.

Options (TorchEasyRec's TextNormalizeOption): LOWER2UPPER, UPPER2LOWER, SBC2DBC (full-width to
half-width), CHT2CHS (traditional to simplified Chinese, common characters), FILTER (remove the
characters of `stop_char_file`, or punctuation and symbols without one), SPLITCHRS (characters
separated by spaces), REMOVE_SPACE. Without options: LOWER2UPPER, SBC2DBC, CHT2CHS, FILTER.
Texts longer than `max_length` characters are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_core.fs import url_to_fs
from rec_core.protos import feature_pb2

Opt = feature_pb2.TextNormalizeOption
DEFAULT_OPTIONS = (Opt.TEXT_LOWER2UPPER, Opt.TEXT_SBC2DBC, Opt.TEXT_CHT2CHS, Opt.TEXT_FILTER)
# the order options apply in, whatever order the config lists them
_ORDER = (
    Opt.TEXT_LOWER2UPPER, Opt.TEXT_UPPER2LOWER, Opt.TEXT_SBC2DBC, Opt.TEXT_CHT2CHS,
    Opt.TEXT_FILTER, Opt.TEXT_REMOVE_SPACE, Opt.TEXT_SPLITCHRS,
)

SBC2DBC = {0x3000: 0x20, **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}

# traditional -> simplified pairs of common characters; unlisted characters pass through
_CHT_PAIRS = (
    "們们 個个 東东 車车 馬马 門门 見见 長长 來来 說说 時时 會会 國国 學学 對对 過过 還还 這这 裡里 後后 開开 關关 頭头 點点 "
    "電电 話话 讓让 從从 與与 樣样 經经 現现 發发 問问 題题 愛爱 無无 實实 應应 當当 將将 為为 體体 業业 機机 動动 進进 種种 "
    "麼么 兒儿 氣气 樂乐 歲岁 華华 幾几 號号 視视 覺觉 軍军 產产 義义 聽听 區区 書书 寫写 買买 賣卖 錢钱 銀银 鐵铁 語语 認认 "
    "識识 讀读 請请 謝谢 議议 論论 記记 計计 設设 許许 試试 詩诗 調调 變变 難难 雞鸡 鳥鸟 魚鱼 龍龙 風风 飛飞 飯饭 館馆 漢汉 "
    "熱热 燈灯 爺爷 歡欢 邊边 遠远 連连 運运 達达 選选 鄉乡 醫医 陽阳 陰阴 際际 隊队 雖虽 雙双 雲云 響响 顏颜 顯显 類类 驗验 "
    "黨党 齊齐 錯错 鐘钟 鍋锅 間间 閱阅 陸陆 隨随 險险 霧雾 靈灵 韓韩 頁页 順顺 預预 領领 頻频 額额 願愿 養养 餘余 驚惊 髮发 "
    "鬥斗 魯鲁 鮮鲜 鳳凤 鴨鸭 麥麦 黃黄 龜龟 價价 優优 傳传 債债 傷伤 僅仅 億亿 儀仪 兩两 內内 冊册 劃划 劇剧 勞劳 勢势 勝胜 "
    "務务 協协 單单 衛卫 厲厉 參参 臺台 員员 喚唤 團团 圖图 圓圆 場场 塊块 報报 壓压 壞坏 夢梦 夠够 奪夺 奮奋 婦妇 媽妈 嬰婴 "
    "寶宝 寬宽 審审 層层 屬属 島岛 崗岗 幣币 帶带 師师 幫帮 廣广 廠厂 張张 彈弹 歸归 復复 徑径 態态 懷怀 戲戏 戰战 戶户 拋抛 "
    "掃扫 掛挂 換换 揚扬 擁拥 擇择 擊击 擔担 據据 擴扩 攝摄 數数 斷断 晉晋 曉晓 條条 棄弃 楊杨 極极 樓楼 標标 樞枢 樹树 橋桥 "
    "檢检 權权 歷历 殺杀 決决 沒没 況况 淚泪 淨净 測测 滅灭 滿满 漁渔 潔洁 濟济 灣湾 燒烧 爭争 爾尔 牆墙 獎奖 獨独 獲获 環环 "
    "畫画 療疗 盡尽 監监 盤盘 確确 礎础 禮礼 禍祸 稅税 穩稳 窮穷 競竞 筆笔 節节 範范 築筑 簡简 糧粮 紀纪 約约 紅红 級级 紙纸 "
    "細细 終终 組组 結结 絕绝 給给 統统 絲丝 綠绿 網网 維维 線线 練练 編编 緣缘 總总 績绩 續续 織织 罰罚 羅罗 習习 聖圣 聯联 "
    "聲声 職职 肅肃 腦脑 腳脚 興兴 舉举 舊旧 艦舰 藝艺 蘇苏 蘭兰 處处 蟲虫 術术 衝冲 補补 裝装 製制 複复 襲袭 規规 親亲 觀观 "
    "觸触 訊讯 訓训 託托 訪访 證证 評评 詞词 詢询 該该 誤误 誰谁 課课 談谈 諸诸 講讲 護护 豐丰 貝贝 負负 財财 貨货 質质 貴贵 "
    "費费 資资 賓宾 賽赛 贊赞 趕赶 趨趋 跡迹 踐践 軌轨 軟软 較较 載载 輕轻 輛辆 輪轮 輸输 轉转 辦办 農农 迴回 週周 遊游 違违 "
    "遙遥 遞递 適适 遲迟 遷迁 遺遗 鄰邻 醜丑 釋释 針针 鈔钞 鋼钢 錄录 鍵键 鏡镜 閉闭 閒闲 閣阁 陣阵 陳陈 隱隐 雜杂 離离 靜静 "
    "韻韵 項项 須须 頓顿 顧顾 飄飘 飲饮 飽饱 餓饿 驅驱 騎骑 髒脏 鬧闹 鳴鸣 齒齿"
)
CHT2CHS = {ord(pair[0]): ord(pair[1]) for pair in _CHT_PAIRS.split()}


def translate(col: pa.Array, table: dict[int, int]) -> pa.Array:
    """Every character mapped one-to-one through `table`, for a whole string column at once.

    The column's UTF-8 buffer is decoded and translated as one string; row boundaries are
    recomputed from the characters' new byte widths.
    """
    arr = col.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return col
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + n + 1]
    buf = arr.buffers()[2]
    raw = np.frombuffer(buf, np.uint8)[offsets[0] : offsets[-1]] if buf is not None else np.zeros(0, np.uint8)
    text = raw.tobytes().decode("utf-8")
    out = text.translate(table)
    if out == text:
        return col
    # characters before each row boundary: UTF-8 lead bytes are those not of the form 10xxxxxx
    leads = np.concatenate([[0], np.cumsum((raw & 0xC0) != 0x80)])[offsets - offsets[0]]
    cp = np.frombuffer(out.encode("utf-32-le"), np.uint32)
    widths = 1 + (cp >= 0x80).astype(np.int64) + (cp >= 0x800) + (cp >= 0x10000)
    new_offsets = np.concatenate([[0], np.cumsum(widths)])[leads].astype(np.int64)
    result = pa.LargeStringArray.from_buffers(n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(out.encode("utf-8")))
    if arr.null_count:
        result = pc.if_else(pc.is_valid(arr), result, pa.scalar(None, pa.large_string()))
    return result.cast(col.type)


def _stop_chars(path: str, where: str) -> str:
    fs, p = url_to_fs(path)
    if not fs.exists(p):
        raise ConfigError(where, f"stop_char_file {path!r} does not exist")
    with fs.open(p, "r", encoding="utf-8") as f:
        return "".join(sorted(set(f.read()) - {"\n", "\r"}))


def _regex_class(chars: str) -> str:
    """An RE2 character class matching exactly `chars`."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def build_normalizer(config: Any, where: str, stop_char_path: str = "") -> Callable[[pa.Array], pa.Array]:
    """A function normalizing a string column as the TextNormalizer message `config` says."""
    options = set(config.norm_options) or set(DEFAULT_OPTIONS)
    filter_pattern = r"[\p{P}\p{S}]"
    if Opt.TEXT_FILTER in options and stop_char_path:
        chars = _stop_chars(stop_char_path, f"{where}.stop_char_file")
        filter_pattern = _regex_class(chars) if chars else ""
    steps: dict[int, Callable[[pa.Array], pa.Array]] = {
        Opt.TEXT_LOWER2UPPER: pc.utf8_upper,
        Opt.TEXT_UPPER2LOWER: pc.utf8_lower,
        Opt.TEXT_SBC2DBC: lambda c: translate(c, SBC2DBC),
        Opt.TEXT_CHT2CHS: lambda c: translate(c, CHT2CHS),
        Opt.TEXT_FILTER: lambda c: pc.replace_substring_regex(c, filter_pattern, "") if filter_pattern else c,
        Opt.TEXT_REMOVE_SPACE: lambda c: pc.replace_substring_regex(c, r"\s+", ""),
        Opt.TEXT_SPLITCHRS: lambda c: pc.utf8_trim(pc.replace_substring_regex(pc.replace_substring_regex(c, r"(\S)", r"\1 "), r"\s+", " "), " "),
    }
    chosen = [steps[o] for o in _ORDER if o in options]
    max_length = int(config.max_length) if config.HasField("max_length") else 0

    def normalize(col: pa.Array) -> pa.Array:
        out = col
        for step in chosen:
            out = step(out)
        if max_length:
            out = pc.if_else(pc.greater(pc.utf8_length(col), max_length), col, out)
        return out

    return normalize
