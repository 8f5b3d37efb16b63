"""A seeded multilingual corpus of chat messages, with the words each message was built from.

Messages in Japanese, Chinese, Korean, Arabic, Hebrew, Russian, Greek, emoji and mixtures,
made of real words (sentences are drawn from templates, so the generator knows which words
each message holds: the *word truth* the CJK analyses are measured against in
``bench/cjk_analysis.py``). Arabic and Hebrew words come with or without their vowel marks,
Arabic with its alef variants, Greek and Russian in any case, as people type them. The same
seed always gives the same corpus. ``python -m bench.multilingual_corpus`` prints a sample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LANGUAGES = ("ja", "zh", "ko", "ar", "he", "ru", "el", "emoji", "mixed")

# Japanese: nouns (kanji and katakana), joined by particles and ended by a verb phrase.
JA_WORDS = (
    "東京", "京都", "大阪", "取引", "契約書", "契約", "確認", "会議", "明日", "今日", "株式", "会社",
    "報告書", "資料", "部長", "社長", "市場", "価格", "電話", "顧客", "メール", "ファイル",
    "プロジェクト", "データ", "テスト", "銀行", "口座", "送金", "書類", "担当者",
)  # fmt: skip
JA_PARTICLES = ("の", "を", "に", "は", "が", "で", "と", "について", "から")
JA_ENDINGS = ("確認してください", "送ってください", "お願いします", "でした", "ですか", "があります", "を見ました")
ZH_WORDS = (
    "东京", "北京", "上海", "交易", "合同", "确认", "会议", "明天", "今天", "股票", "公司", "报告",
    "资料", "经理", "市场", "价格", "电话", "客户", "项目", "银行", "账户", "汇款", "文件", "负责人",
)  # fmt: skip
ZH_JOINS = ("的", "和", "在", "需要", "关于", "把", "给")
ZH_ENDINGS = ("请确认", "已经发送了", "没有问题", "明白了吗", "需要处理")
KO_WORDS = (
    "회의", "계약서", "계약", "확인", "주식", "회사", "보고서", "내일", "오늘", "서울", "부산", "가격",
    "시장", "전화", "고객", "은행", "계좌", "송금", "자료", "담당자",
)  # fmt: skip
KO_PARTICLES = ("를", "을", "는", "은", "가", "이", "에서", "와", "의", "")
KO_ENDINGS = ("확인해 주세요", "보내 주세요", "했습니다", "있습니까", "부탁합니다")
# Arabic: (plain spelling, spelling with its marks or alef variant as people write it).
AR_WORDS = (
    ("احمد", "أَحْمَد"), ("محمد", "مُحَمَّد"), ("الي", "إلى"), ("الشركه", "الشركة"), ("مدرسه", "مدرسة"),
    ("عقد", "عَقْد"), ("السوق", "السُّوق"), ("سعر", "سِعْر"), ("الاسعار", "الأسعار"), ("اجتماع", "اِجْتِمَاع"),
    ("اليوم", "اليَوْم"), ("تقرير", "تَقْرِير"), ("هاتف", "هَاتِف"), ("مستشفي", "مستشفى"), ("البنك", "البَنْك"),
    ("حساب", "حِسَاب"), ("امس", "أمس"), ("اسهم", "أسهم"),
)  # fmt: skip
AR_JOINS = ("في", "من", "مع", "و", "بعد", "قبل")
HE_WORDS = (
    ("שלום", "שָׁלוֹם"), ("חוזה", "חוֹזֶה"), ("פגישה", "פְּגִישָׁה"), ("מחר", "מָחָר"), ("היום", "הַיּוֹם"),
    ("חברה", "חֶבְרָה"), ("מניות", "מְנָיוֹת"), ("דוח", "דּוּחַ"), ("שוק", "שׁוּק"), ("מחיר", "מְחִיר"),
    ("טלפון", "טֶלֶפוֹן"), ("לקוח", "לָקוֹחַ"), ("בנק", "בַּנְק"), ("חשבון", "חֶשְׁבּוֹן"),
)  # fmt: skip
HE_JOINS = ("של", "עם", "על", "אחרי", "לפני", "גם")
RU_WORDS = (
    "договор", "встреча", "завтра", "сегодня", "компания", "акции", "отчёт", "рынок", "цена",
    "телефон", "клиент", "Москва", "банк", "счёт", "перевод", "документы", "ёлка", "ещё",
)  # fmt: skip
RU_JOINS = ("и", "в", "на", "по", "для", "после")
EL_WORDS = (
    "συμβόλαιο", "συνάντηση", "αύριο", "σήμερα", "εταιρεία", "μετοχές", "έκθεση", "αγορά", "τιμή",
    "τηλέφωνο", "πελάτης", "Αθήνα", "τράπεζα", "λογαριασμός", "έγγραφα", "υπεύθυνος",
)  # fmt: skip
EL_JOINS = ("και", "για", "με", "στην", "μετά", "πριν")
EMOJI = (
    "👍", "👍🏽", "👍🏻", "🚀", "🎉", "❤️", "😂", "🔥", "✅", "👨\u200d👩\u200d👧", "👩\u200d💻", "🇯🇵", "🇺🇸",
    "⭐", "⏰", "🙏🏾",
)  # fmt: skip
EN_WORDS = ("deal", "contract", "meeting", "tomorrow", "report", "price", "client", "Café", "résumé", "Slack")


@dataclass(frozen=True)
class Message:
    """One generated message, its language and the dictionary words it was built from."""

    number: int
    language: str
    text: str
    words: frozenset[str]


def _ja(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.sample(JA_WORDS, rng.randint(1, 3))
    parts = [part for word in words for part in (word, rng.choice(JA_PARTICLES))][:-1]
    ending = rng.choice(JA_ENDINGS)
    text = "".join(parts) + ending + rng.choice(("。", "！", "", "？"))
    return text, [*words, *(w for w in JA_WORDS if w in ending)]


def _zh(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.sample(ZH_WORDS, rng.randint(1, 3))
    ending = rng.choice(ZH_ENDINGS)
    text = rng.choice(ZH_JOINS).join(words) + rng.choice(("，", "")) + ending + rng.choice(("。", "！"))
    return text, [*words, *(w for w in ZH_WORDS if w in ending)]


def _ko(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.sample(KO_WORDS, rng.randint(1, 3))
    ending = rng.choice(KO_ENDINGS)
    text = " ".join(word + rng.choice(KO_PARTICLES) for word in words) + " " + ending + "."
    return text, [*words, *(w for w in KO_WORDS if w in ending)]


def _pairs(rng: random.Random, lexicon: tuple[tuple[str, str], ...], joins: tuple[str, ...]) -> tuple[str, list[str]]:
    chosen = rng.sample(lexicon, rng.randint(2, 4))
    spelled = [rng.choice(pair) for pair in chosen]
    text = f" {rng.choice(joins)} ".join(spelled)
    if rng.random() < 0.2:  # tatweel, as in headings and emphasis
        text = text.replace("ح", "حـ", 1)
    return text, [plain for plain, _marked in chosen]


def _cased(rng: random.Random, lexicon: tuple[str, ...], joins: tuple[str, ...]) -> tuple[str, list[str]]:
    words = rng.sample(lexicon, rng.randint(2, 4))
    spelled = [w.upper() if rng.random() < 0.15 else w.capitalize() if rng.random() < 0.2 else w for w in words]
    return f" {rng.choice(joins)} ".join(spelled) + rng.choice((".", "!", "?", "")), words


def _emoji(rng: random.Random) -> tuple[str, list[str]]:
    chosen = rng.sample(EMOJI, rng.randint(1, 3))
    glue = rng.choice(("", " ", " ok "))
    return glue.join(chosen) + rng.choice(("", " thanks", " 了解")), chosen


def _mixed(rng: random.Random) -> tuple[str, list[str]]:
    pieces = [
        _ja(rng),
        (rng.choice(EN_WORDS), []),
        (rng.choice(EMOJI), []),
        _pairs(rng, AR_WORDS, AR_JOINS),
        (" ".join(rng.sample(RU_WORDS, 1)), []),
    ]
    rng.shuffle(pieces)
    chosen = pieces[:3]
    return " ".join(text for text, _ in chosen), [w for _, words in chosen for w in words]


_MAKERS = {
    "ja": _ja,
    "zh": _zh,
    "ko": _ko,
    "ar": lambda rng: _pairs(rng, AR_WORDS, AR_JOINS),
    "he": lambda rng: _pairs(rng, HE_WORDS, HE_JOINS),
    "ru": lambda rng: _cased(rng, RU_WORDS, RU_JOINS),
    "el": lambda rng: _cased(rng, EL_WORDS, EL_JOINS),
    "emoji": _emoji,
    "mixed": _mixed,
}


def generate(per_language: int = 60, *, seed: int = 17) -> list[Message]:
    """``per_language`` messages in every language of :data:`LANGUAGES`, the same for a seed."""
    rng = random.Random(seed)
    messages: list[Message] = []
    for language in LANGUAGES:
        for _ in range(per_language):
            text, words = _MAKERS[language](rng)
            messages.append(Message(len(messages), language, text, frozenset(words)))
    return messages


def query_words() -> list[str]:
    """The words searched for: every dictionary word in every spelling, case and mark variant."""
    words: list[str] = [*JA_WORDS, *ZH_WORDS, *KO_WORDS, *EMOJI, *EN_WORDS]
    words += [spelling for pair in (*AR_WORDS, *HE_WORDS) for spelling in pair]
    words += [variant for w in (*RU_WORDS, *EL_WORDS) for variant in (w, w.upper(), w.capitalize())]
    words += ["отчет", "ελκα", "ΣΥΜΒΟΛΑΙΟ", "ΠΕΛΑΤΗΣ", "πελατης", "👩", "👨", "💻", "🏽", "契約書*", "東*"]
    return list(dict.fromkeys(words))


def main() -> None:
    for message in generate(3):
        print(message.language, message.text)


if __name__ == "__main__":
    main()
