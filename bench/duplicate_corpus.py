"""A seeded corpus of chat messages with known near-duplicate families (issue 20).

Every document is a text with its truth: the family it belongs to (``-1``: none), how it was
made from the family's original (``original``, ``typos``, ``words``, ``reorder``, ``forward``,
``truncate``, ``signature``, or two of them joined by ``+``) and its language. Families are an
original chat message and copies of it made by the edits people make: typos, words inserted or
removed, clauses reordered, a forwarded copy with a prefix, a truncated copy, a signature line.
The rest are distinct messages, among them **hard negatives**: fills of one template (an
invoice reminder, a meeting move, a shipment notice) with different names, numbers, dates and
items, which share much of their wording but not their substance and must not be grouped.

Languages: English, German, French, Spanish (word-spaced) and Japanese (no spaces). The same
``seed`` and ``documents`` always give the same corpus. The tests and ``bench/review_duplicates.py``
import it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

LANGUAGES = ("en", "de", "fr", "es", "ja")
EDITS = ("typos", "words", "reorder", "forward", "truncate", "signature")


def _vocabulary(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = {
    "en": _vocabulary(
        "the budget review moved to next week because finance still waits for the numbers from the regional "
        "team and legal wants another look at the supplier contract before anyone signs it please check the "
        "draft I shared yesterday and send your comments we should also decide who presents the results to "
        "the board customer complaints went up after the release so support needs more people on the late "
        "shift the server migration is done but two reports still fail every night can you ask the vendor "
        "about the license renewal price and whether the discount still applies"
    ),
    "de": _vocabulary(
        "die budgetrunde ist auf nächste woche verschoben weil die zahlen aus dem vertrieb noch fehlen und die "
        "rechtsabteilung den liefervertrag noch einmal prüfen will bitte schau dir den entwurf von gestern an "
        "und schick mir deine anmerkungen wir müssen auch klären wer die ergebnisse dem vorstand vorstellt die "
        "beschwerden der kunden sind nach dem update gestiegen deshalb braucht der support mehr leute in der "
        "spätschicht die umstellung der server ist fertig aber zwei berichte laufen nachts immer noch auf "
        "fehler kannst du beim hersteller nach dem preis für die verlängerung der lizenz fragen"
    ),
    "fr": _vocabulary(
        "la revue du budget est repoussée à la semaine prochaine car la finance attend encore les chiffres de "
        "l'équipe régionale et le service juridique veut relire le contrat fournisseur avant la signature "
        "merci de relire le brouillon partagé hier et de m'envoyer vos remarques il faut aussi décider qui "
        "présente les résultats au conseil les réclamations des clients ont augmenté après la mise à jour donc "
        "le support a besoin de renfort le soir la migration des serveurs est terminée mais deux rapports "
        "échouent encore chaque nuit peux-tu demander au fournisseur le prix du renouvellement de la licence"
    ),
    "es": _vocabulary(
        "la revisión del presupuesto pasa a la semana que viene porque finanzas sigue esperando las cifras del "
        "equipo regional y el departamento legal quiere revisar otra vez el contrato con el proveedor antes de "
        "firmar por favor revisa el borrador que compartí ayer y mándame tus comentarios también tenemos que "
        "decidir quién presenta los resultados a la junta las quejas de los clientes subieron después de la "
        "actualización así que soporte necesita más gente en el turno de noche la migración de los servidores "
        "terminó pero dos informes siguen fallando cada noche puedes preguntar al proveedor por la licencia"
    ),
    "ja": _vocabulary(
        "予算の見直し は 来週 に 延期 され ました 財務 が 地域 チーム の 数字 を まだ 待って います "
        "法務 は 署名 の 前 に "
        "取引先 との 契約書 を もう一度 確認 したい そう です 昨日 共有 した 草案 を 確認 して "
        "コメント を 送って ください "
        "取締役会 で 誰 が 結果 を 発表 する か も 決める 必要 が あります リリース 後 に 顧客 の 苦情 が 増えた ので "
        "サポート は 遅番 に 人 が 必要 です サーバー の 移行 は 終わり ました が 毎晩 二つ の "
        "レポート が 失敗 して います "
        "ライセンス 更新 の 価格 と 割引 が まだ 有効 か ベンダー に 聞いて もらえ ます か"
    ),
}

_NAMES = ("Alice", "Bram", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hiro", "Ines", "Jonas", "Keiko", "Luis")
_ITEMS = ("laptops", "toner", "office chairs", "monitors", "licenses", "server racks", "badges", "headsets")

_TEMPLATES = {
    "en": (
        "Hi {name}, invoice {number} for {amount} EUR ({item}) is due on {date}. Please confirm payment by {day}.",
        "Meeting with {name} about {item} moved to {date} at {hour}:00, room {number}. Bring the {amount} forecast.",
        "Shipment {number} of {item} for {name} left the warehouse on {date}; expected delivery {day}, value {amount}.",
    ),
    "de": (
        "Hallo {name}, Rechnung {number} über {amount} EUR ({item}) ist am {date} fällig. "
        "Bitte Zahlung bis {day} bestätigen.",
        "Termin mit {name} zu {item} verschoben auf {date} um {hour}:00, Raum {number}. Prognose {amount} mitbringen.",
    ),
    "fr": (
        "Bonjour {name}, la facture {number} de {amount} EUR ({item}) est due le {date}. "
        "Merci de confirmer avant {day}.",
        "Réunion avec {name} sur {item} déplacée au {date} à {hour}h, salle {number}. Apportez la prévision {amount}.",
    ),
    "es": (
        "Hola {name}, la factura {number} por {amount} EUR ({item}) vence el {date}. Confirma el pago antes del {day}.",
        "La reunión con {name} sobre {item} pasa al {date} a las {hour}:00, sala {number}. Trae la previsión {amount}.",
    ),
    "ja": (
        "{name}さん、請求書{number}（{item}、{amount}ユーロ）の支払期限は{date}です。{day}までに支払いを確認してください。",
    ),
}

_FORWARDS = {
    "en": ("Fwd: ", "FYI, forwarding from {name}: ", "---- Forwarded message ----\n"),
    "de": ("WG: ", "Zur Info, weitergeleitet von {name}: "),
    "fr": ("TR: ", "Pour info, transféré de la part de {name} : "),
    "es": ("RV: ", "Para tu información, reenviado de {name}: "),
    "ja": ("転送: ", "{name}さんから転送します："),
}

_SIGNATURES = {
    "en": ("\n--\n{name}\nHead of Procurement, ACME Corp.", "\nSent from my phone", "\nBest, {name}"),
    "de": ("\n--\n{name}\nLeitung Einkauf, ACME GmbH", "\nVon meinem Telefon gesendet", "\nGruß, {name}"),
    "fr": ("\n--\n{name}\nResponsable achats, ACME SA", "\nEnvoyé de mon téléphone", "\nCordialement, {name}"),
    "es": ("\n--\n{name}\nJefe de compras, ACME SL", "\nEnviado desde mi móvil", "\nSaludos, {name}"),
    "ja": ("\n--\n{name}\nACME株式会社 購買部", "\n携帯から送信"),
}


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    family: list[int]
    """Family id of each document, -1 for a distinct one."""
    edit: list[str]
    """How each family member was made from the original ("original" for it; "distinct" and
    "template" for the documents in no family)."""
    language: list[str]

    def true_pairs(self) -> int:
        return sum(n * (n - 1) // 2 for f, n in Counter(self.family).items() if f >= 0)


def _sentence(rng: random.Random, language: str, words: int) -> str:
    vocabulary = _WORDS[language]
    start = rng.randrange(len(vocabulary))
    picked = [
        vocabulary[(start + i) % len(vocabulary)] if rng.random() < 0.6 else rng.choice(vocabulary)
        for i in range(words)
    ]
    joiner = "" if language == "ja" else " "
    text = joiner.join(picked)
    return text[:1].upper() + text[1:] + ("。" if language == "ja" else rng.choice((".", "!", "?", ".")))


def _original(rng: random.Random, language: str) -> str:
    joiner = "" if language == "ja" else " "
    return joiner.join(_sentence(rng, language, rng.randint(8, 16)) for _ in range(rng.randint(2, 4)))


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        name=rng.choice(_NAMES),
        number=rng.randint(1000, 99999),
        amount=f"{rng.randint(100, 99999):,}",
        item=rng.choice(_ITEMS),
        date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        day=rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")),
        hour=rng.randint(8, 18),
    )


def _typos(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(1, len(chars) - 1)
        match rng.randrange(3):
            case 0:
                chars[at], chars[at + 1] = chars[at + 1], chars[at]
            case 1:
                del chars[at]
            case _:
                chars.insert(at, rng.choice("aeinorst"))
    return "".join(chars)


def _words(rng: random.Random, text: str, language: str) -> str:
    if language == "ja":
        cut = rng.randrange(len(text))
        return text[:cut] + rng.choice(("とても", "念のため", "急ぎで")) + text[cut:]
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5 and len(words) > 4:
            del words[rng.randrange(len(words))]
        else:
            words.insert(rng.randrange(len(words)), rng.choice(("really", "also", "asap", "maybe", "just", "ok")))
    return " ".join(words)


def _reorder(rng: random.Random, text: str, language: str) -> str:
    stop = "。" if language == "ja" else ". "
    parts = [p for p in text.split(stop) if p]
    if len(parts) < 2:
        return text
    first = rng.randrange(len(parts) - 1)
    parts[first], parts[first + 1] = parts[first + 1], parts[first]
    return stop.join(parts)


def _edit(rng: random.Random, kind: str, text: str, language: str) -> str:
    match kind:
        case "typos":
            return _typos(rng, text)
        case "words":
            return _words(rng, text, language)
        case "reorder":
            return _reorder(rng, text, language)
        case "forward":
            return rng.choice(_FORWARDS[language]).format(name=rng.choice(_NAMES)) + text
        case "truncate":
            return text[: int(len(text) * rng.uniform(0.75, 0.9))]
        case _:
            return text + rng.choice(_SIGNATURES[language]).format(name=rng.choice(_NAMES))


def generate(documents: int, *, seed: int = 20, family_share: float = 0.3, template_share: float = 0.1) -> Corpus:
    """``documents`` texts in a shuffled order: ``family_share`` of them in families of 2 to 6,
    ``template_share`` hard negatives (fills of a template), the rest distinct messages."""
    rng = random.Random(seed)
    rows: list[tuple[str, int, str, str]] = []
    family = 0
    in_families = int(documents * family_share)
    while len(rows) < in_families:
        language = rng.choice(LANGUAGES)
        original = _original(rng, language)
        rows.append((original, family, "original", language))
        for _ in range(min(rng.randint(1, 5), in_families - len(rows))):
            kinds = rng.sample(EDITS, 2 if rng.random() < 0.3 else 1)
            text = original
            for kind in kinds:
                text = _edit(rng, kind, text, language)
            rows.append((text, family, "+".join(kinds), language))
        family += 1
    for _ in range(int(documents * template_share)):
        language = rng.choice(LANGUAGES)
        rows.append((_fill(rng, rng.choice(_TEMPLATES[language])), -1, "template", language))
    while len(rows) < documents:
        language = rng.choice(LANGUAGES)
        rows.append((_original(rng, language), -1, "distinct", language))
    rng.shuffle(rows)
    return Corpus([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])


@dataclass(frozen=True)
class Score:
    """Pairwise precision and recall of a grouping against a corpus's families."""

    precision: float
    recall: float
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    recall_by_edit: dict[str, float]
    """Of each edit kind: the share of copies grouped with their family's original."""
    recall_by_language: dict[str, float]
    families_whole: float
    """The share of families whose members are all in one group."""

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def score(corpus: Corpus, groups: Sequence[int]) -> Score:
    """``groups``: each document's group label (-1: in no group)."""
    sizes = Counter(g for g in groups if g >= 0)
    predicted = sum(n * (n - 1) // 2 for n in sizes.values())
    both = Counter((g, f) for g, f in zip(groups, corpus.family, strict=True) if g >= 0 and f >= 0)
    correct = sum(n * (n - 1) // 2 for n in both.values())
    true = corpus.true_pairs()
    original_group: dict[int, int] = {}
    for g, f, e in zip(groups, corpus.family, corpus.edit, strict=True):
        if e == "original":
            original_group[f] = g
    hits: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    language_hits: Counter[str] = Counter()
    language_seen: Counter[str] = Counter()
    family_groups: dict[int, set[int]] = {}
    for g, f, e, lang in zip(groups, corpus.family, corpus.edit, corpus.language, strict=True):
        if f < 0:
            continue
        family_groups.setdefault(f, set()).add(g)
        if e == "original":
            continue
        joined = g >= 0 and g == original_group[f]
        for kind in e.split("+"):
            seen[kind] += 1
            hits[kind] += joined
        language_seen[lang] += 1
        language_hits[lang] += joined
    whole = sum(1 for found in family_groups.values() if len(found) == 1 and -1 not in found)
    return Score(
        precision=correct / predicted if predicted else 1.0,
        recall=correct / true if true else 1.0,
        predicted_pairs=predicted,
        true_pairs=true,
        correct_pairs=correct,
        recall_by_edit={k: hits[k] / seen[k] for k in sorted(seen)},
        recall_by_language={k: language_hits[k] / language_seen[k] for k in sorted(language_seen)},
        families_whole=whole / len(family_groups) if family_groups else 1.0,
    )
