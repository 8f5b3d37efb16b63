"""The sentences of the synthetic misconduct corpus (:mod:`supervision.corpus`), by language.

Written from what each kind of misconduct looks like in chat, not from the example lexicons:
some misconduct is phrased so that no example term catches it (recall is honest), and every
topic has benign near-misses that use its words ("I can't guarantee anything", "no gifts
please", a compliance reminder naming WhatsApp) so that precision is honest too. Slots in
braces are filled from :data:`SLOTS` of the message's language.
"""

from __future__ import annotations

from typing import Final, Literal

Topic = Literal["guarantees", "off_channel", "gifts", "complaints"]
TOPICS: Final[tuple[Topic, ...]] = ("guarantees", "off_channel", "gifts", "complaints")
Language = Literal["en", "de", "fr", "es", "ja"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "de", "fr", "es", "ja")

SLOTS: Final[dict[Language, dict[str, tuple[str, ...]]]] = {
    "en": {
        "name": ("Sarah", "Tom", "Priya", "Mike", "Laura", "James"),
        "product": ("the fund", "this bond", "the structured note", "ACME shares", "the new ETF", "the IPO"),
        "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
        "time": ("9:30", "11am", "2pm", "4:15", "noon"),
        "event": ("the Champions League final", "the Grand Prix", "Wimbledon", "the Super Bowl"),
    },
    "de": {
        "name": ("Anna", "Jonas", "Lena", "Markus", "Sabine", "Felix"),
        "product": ("der Fonds", "die Anleihe", "das Zertifikat", "die ACME-Aktie", "der neue ETF"),
        "day": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"),
        "time": ("9:30", "11 Uhr", "14 Uhr", "16:15", "Mittag"),
        "event": ("das Pokalfinale", "den Grand Prix", "das Oktoberfest", "die Bayern-Partie"),
    },
    "fr": {
        "name": ("Camille", "Julien", "Sophie", "Nicolas", "Élodie", "Mathieu"),
        "product": ("le fonds", "cette obligation", "le produit structuré", "l'action ACME", "le nouvel ETF"),
        "day": ("lundi", "mardi", "mercredi", "jeudi", "vendredi"),
        "time": ("9h30", "11h", "14h", "16h15", "midi"),
        "event": ("la finale de la Coupe", "Roland-Garros", "le Grand Prix de Monaco", "le Tournoi des Six Nations"),
    },
    "es": {
        "name": ("Lucía", "Javier", "Marta", "Pablo", "Carmen", "Diego"),
        "product": ("el fondo", "este bono", "el producto estructurado", "la acción de ACME", "el nuevo ETF"),
        "day": ("lunes", "martes", "miércoles", "jueves", "viernes"),
        "time": ("9:30", "11:00", "14:00", "16:15", "mediodía"),
        "event": ("el Clásico", "la final de Copa", "el Gran Premio", "Roland Garros"),
    },
    "ja": {
        "name": ("佐藤さん", "鈴木さん", "高橋さん", "田中さん", "伊藤さん"),
        "product": ("このファンド", "この債券", "仕組債", "ACME株", "新しいETF"),
        "day": ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日"),
        "time": ("9時半", "11時", "14時", "16時15分", "正午"),
        "event": ("日本シリーズ", "F1日本グランプリ", "大相撲の初場所", "ワールドカップ予選"),
    },
}

MISCONDUCT: Final[dict[Topic, dict[Language, tuple[str, ...]]]] = {
    "guarantees": {
        "en": (
            "I guarantee you'll see {pct}% on {product} by year end",
            "{product} is risk-free, you literally can't lose",
            "Trust me, {product} will return at least {pct}%, guaranteed",
            "We promise a return of {pct}% per year, no matter what the market does",
            "This is a sure thing, you'll double your money by {day}",
            "Zero chance you lose money on {product}, I promise",
            "You'll make {pct}% easy, the downside is basically nil",
            "Guaranteed income of {pct}% with {product}, tell your friends",
        ),
        "de": (
            "Ich garantiere Ihnen {pct}% Rendite mit {product}",
            "{product} ist absolut risikolos, da kann nichts passieren",
            "Wir versprechen Ihnen einen Ertrag von {pct}% pro Jahr",
            "Das ist todsicher, Sie verdoppeln Ihr Geld bis {day}",
            "Mit {product} machen Sie garantiert Gewinn",
            "Verlust ist ausgeschlossen, {pct}% sind so gut wie sicher",
        ),
        "fr": (
            "Je vous garantis un rendement de {pct}% avec {product}",
            "{product}, c'est sans risque, vous ne pouvez pas perdre",
            "On vous promet {pct}% de gain par an, quoi qu'il arrive",
            "C'est du gagnant à coup sûr, vous allez doubler votre argent",
            "Rendement garanti de {pct}% sur {product}, parole d'honneur",
            "Aucune chance de perdre un centime, {pct}% minimum",
        ),
        "es": (
            "Le garantizo una rentabilidad del {pct}% con {product}",
            "{product} es sin riesgo, no puede perder",
            "Le prometemos ganancias del {pct}% al año, pase lo que pase",
            "Es dinero seguro, va a duplicar su dinero antes del {day}",
            "Rentabilidad garantizada del {pct}% con {product}",
            "Imposible perder con {product}, mínimo un {pct}%",
        ),
        "ja": (
            "{product}は元本保証で年{pct}%です",
            "絶対に儲かるので今すぐ買ってください",
            "{product}ならノーリスクで{pct}%のリターンが出ます",
            "損はさせませんので安心してください",
        ),
    },
    "off_channel": {
        "en": (
            "Let's move this to WhatsApp, easier to talk there",
            "Text me on Signal about the {product} trade",
            "Call my cell after the close, don't use the desk line",
            "Send it to my personal email instead",
            "Can we take this offline? I'll ring you on my mobile",
            "Ping me on Telegram, not here",
            "Don't put this in writing, just call me",
            "Use my gmail for the term sheet, it's quicker",
            "Let's chat on my other phone tonight",
        ),
        "de": (
            "Lass uns das über WhatsApp besprechen",
            "Schreib mir lieber über Signal wegen {product}",
            "Ruf mich auf meinem privaten Handy an, nicht im Büro",
            "Schick es an meine private E-Mail",
            "Das besser nicht schriftlich, ich ruf dich an",
            "Meine Privatnummer hast du ja, melde dich heute Abend",
        ),
        "fr": (
            "On passe sur WhatsApp, ce sera plus simple",
            "Écris-moi sur Signal pour {product}",
            "Appelle-moi sur mon portable après la clôture",
            "Envoie ça sur mon mail perso",
            "Pas par écrit, je t'appelle ce soir",
            "Je te donne mon numéro perso, on en parle tranquillement",
        ),
        "es": (
            "Mejor hablamos por WhatsApp",
            "Escríbeme por Signal sobre {product}",
            "Llámame a mi móvil personal después del cierre",
            "Mándalo a mi correo personal",
            "No por escrito, te llamo luego",
            "Te paso mi número de casa y lo hablamos",
        ),
        "ja": (
            "この件はLINEで話しましょう",
            "個人の携帯に電話してください",
            "私用メールに送ってもらえますか",
            "記録に残らない方法で連絡します",
        ),
    },
    "gifts": {
        "en": (
            "I've got courtside tickets for {event}, want to come? on us",
            "Sending you a little gift for all the business this quarter",
            "Dinner is on me tonight, bring the team",
            "We'd love to fly you to Monaco for {event}, all expenses paid",
            "How about a golf trip next week, my treat",
            "I'll drop off a gift card for your assistant",
            "Box seats for the opera on Saturday if you want them",
            "There's a case of Bordeaux on its way to your office",
        ),
        "de": (
            "Ich habe Karten für {event}, kommen Sie doch mit, geht auf mich",
            "Als Dankeschön schicke ich Ihnen ein kleines Geschenk",
            "Ich lade Sie zum Skiwochenende ein, alles bezahlt",
            "Für Ihre Assistentin lege ich einen Gutschein bei",
            "Wir hätten noch Plätze in der VIP-Loge für {event}",
            "Eine Kiste Champagner ist zu Ihnen unterwegs",
        ),
        "fr": (
            "J'ai des billets pour {event}, je vous invite",
            "Un petit cadeau pour vous remercier de ce trimestre",
            "Le dîner c'est pour moi ce soir",
            "On vous emmène à Monaco pour {event}, tous frais payés",
            "Je vous fais porter une carte cadeau",
            "Une caisse de grands crus arrive à votre bureau",
        ),
        "es": (
            "Tengo entradas para {event}, yo invito",
            "Le mando un regalo por todo el negocio de este trimestre",
            "La cena corre de mi cuenta esta noche",
            "Le llevamos a Mónaco para {event}, todo pagado",
            "Le dejo una tarjeta regalo para su asistente",
            "Le enviamos una caja de vino a su oficina",
        ),
        "ja": (
            "{event}のチケットを用意しましたのでぜひ",
            "日頃のお礼に商品券をお送りします",
            "今夜は接待でご馳走させてください",
            "高級ワインをご自宅にお届けします",
        ),
    },
    "complaints": {
        "en": (
            "I want to file a formal complaint about how my account was handled",
            "You told me this was safe and I lost money, I want a refund",
            "I'm going to report this to FINRA",
            "My lawyer will be in touch about the losses on {product}",
            "This was mis-sold to me and I expect compensation for it",
            "Honestly I'm furious, nobody explained the fees",
            "I've been complaining for weeks and nobody answers",
            "Your advice cost me a fortune and I want it back",
        ),
        "de": (
            "Ich möchte mich offiziell beschweren über die Beratung",
            "Ich wurde falsch beraten und habe Geld verloren",
            "Mein Anwalt wird sich wegen {product} melden",
            "Ich will mein Geld zurück, sofort",
            "Das melde ich der BaFin",
            "Ich bin wirklich sauer, niemand hat mir die Kosten erklärt",
        ),
        "fr": (
            "Je souhaite déposer une plainte officielle",
            "J'ai perdu mon argent à cause de vos conseils, remboursez-moi",
            "Mon avocat va vous contacter au sujet de {product}",
            "Je vais saisir le médiateur de l'AMF",
            "On m'a mal conseillé et je demande réparation",
            "Je suis furieux, personne ne m'a expliqué les frais",
        ),
        "es": (
            "Quiero poner una queja formal por cómo gestionaron mi cuenta",
            "Me engañaron con {product} y perdí mi dinero",
            "Mi abogado se pondrá en contacto con ustedes",
            "Voy a presentar una reclamación ante la CNMV",
            "Devuélvanme mi dinero ya",
            "Estoy indignado, nadie me explicó las comisiones",
        ),
        "ja": (
            "対応について正式に苦情を申し立てます",
            "説明と違うので返金してください",
            "弁護士に相談しています",
            "金融庁に報告します",
        ),
    },
}

NEAR_MISSES: Final[dict[Topic, dict[Language, tuple[str, ...]]]] = {
    "guarantees": {
        "en": (
            "I can't guarantee anything on {product}, markets move",
            "Past performance is no guarantee of future returns, as the factsheet says",
            "There are no guarantees in this market, {name}",
            "The delivery date is guaranteed by the vendor",
            "The laptop warranty is a guarantee, not a return policy",
        ),
        "de": (
            "Ich kann Ihnen leider nichts garantieren",
            "Frühere Wertentwicklung ist keine Garantie für künftige Erträge",
            "Die Lieferung ist garantiert bis {day}",
            "Es gibt keine Garantie auf Rendite, das steht im Prospekt",
        ),
        "fr": (
            "Je ne peux pas garantir le rendement, désolé",
            "Les performances passées ne préjugent pas des performances futures",
            "La livraison est garantie pour {day}",
            "Il n'y a aucune garantie de gain sur {product}",
        ),
        "es": (
            "No puedo garantizar ninguna rentabilidad",
            "Las rentabilidades pasadas no garantizan rentabilidades futuras",
            "La entrega está garantizada para el {day}",
            "El seguro del coche tiene garantía hasta {day}",
        ),
        "ja": (
            "元本は保証されませんのでご注意ください",
            "過去の実績は将来の利益を保証するものではありません",
        ),
    },
    "off_channel": {
        "en": (
            "Signal strength on the trading floor is terrible today",
            "Reminder: WhatsApp and personal email are not approved channels for client business",
            "My cell battery died, I'll be back at my desk in 10",
            "The buy signal on {product} triggered at {time}",
            "Please use the recorded line for all client calls",
        ),
        "de": (
            "Erinnerung: WhatsApp ist für Kundengespräche nicht erlaubt",
            "Das Handy-Netz im Büro ist heute schlecht",
            "Bitte nur über die aufgezeichnete Leitung telefonieren",
            "Das Kaufsignal bei {product} kam um {time}",
        ),
        "fr": (
            "Rappel : WhatsApp est interdit pour les échanges clients",
            "Le signal d'achat sur {product} est arrivé à {time}",
            "Merci d'utiliser uniquement la ligne enregistrée",
            "Mon portable n'a plus de batterie, je reviens au bureau",
        ),
        "es": (
            "Recordatorio: WhatsApp no está permitido con clientes",
            "La señal de compra de {product} saltó a las {time}",
            "Usad solo la línea grabada para llamar a clientes",
            "Se me ha roto el móvil, vuelvo a la mesa en diez minutos",
        ),
        "ja": (
            "顧客とのやり取りにLINEは使用禁止です",
            "携帯の電池が切れたので席に戻ります",
        ),
    },
    "gifts": {
        "en": (
            "No gifts please, our policy doesn't allow them",
            "Reminder: the gifts policy limit is $100 per year",
            "I raised a support ticket for the VPN",
            "Thanks, but I have to decline the tickets",
            "Did you buy the gift for {name}'s farewell yet?",
            "Train tickets for the offsite are booked",
        ),
        "de": (
            "Bitte keine Geschenke, das erlaubt unsere Richtlinie nicht",
            "Die Geschenkerichtlinie gilt ab {day}",
            "Hast du schon ein Geschenk für {name}s Abschied?",
            "Ich muss die Einladung leider ablehnen",
        ),
        "fr": (
            "Pas de cadeaux s'il vous plaît, c'est la règle",
            "On fait une cagnotte pour le cadeau de départ de {name}",
            "Je dois refuser l'invitation, désolé",
            "Les billets de train pour le séminaire sont réservés",
        ),
        "es": (
            "Sin regalos, por favor, la política no lo permite",
            "¿Compramos el regalo de despedida de {name}?",
            "Tengo que rechazar la invitación, lo siento",
            "Ya están los billetes de tren para la reunión",
        ),
        "ja": (
            "規程により贈り物はお受けできません",
            "{name}の送別会のプレゼントを買いましょう",
        ),
    },
    "complaints": {
        "en": (
            "No complaints here, the execution was great",
            "Can't complain, markets were kind to us this week",
            "The team complained about the coffee machine again",
            "Please forward any client complaints to the complaints desk",
            "Lunch was a total loss, the place was closed",
        ),
        "de": (
            "Keine Beschwerden, alles bestens gelaufen",
            "Die Kaffeemaschine ist schon wieder kaputt, ärgerlich",
            "Kundenbeschwerden bitte an das Beschwerdemanagement weiterleiten",
            "Wir haben das Spiel gestern leider verloren",
        ),
        "fr": (
            "Aucune plainte, tout s'est bien passé",
            "La machine à café est encore en panne",
            "Merci de transmettre les réclamations clients au service dédié",
            "On a perdu le match hier soir",
        ),
        "es": (
            "Ninguna queja, todo salió bien",
            "La cafetera se ha vuelto a romper",
            "Reenviad las reclamaciones de clientes al servicio de atención",
            "Perdimos el partido ayer",
        ),
        "ja": (
            "苦情は特にありません、順調です",
            "コーヒーメーカーがまた壊れました",
        ),
    },
}

BENIGN: Final[dict[Language, tuple[str, ...]]] = {
    "en": (
        "Morning all, {product} opens at {time}",
        "Can you send me the deck for {day}?",
        "The meeting with {name} moved to {time}",
        "Who's covering the desk on {day}?",
        "Numbers for Q3 look fine to me",
        "I'll review the term sheet after lunch",
        "Client call at {time}, dial-in is in the invite",
        "Please update the CRM after each call",
        "The system is slow again today",
        "Thanks {name}, received",
        "Can you check the settlement on {product}?",
        "Lunch order goes out at noon",
        "Risk report is attached, see page 3",
        "{name}, can you return the signed NDA by {day}?",
    ),
    "de": (
        "Guten Morgen, {product} eröffnet um {time}",
        "Kannst du mir die Präsentation für {day} schicken?",
        "Das Meeting mit {name} ist auf {time} verschoben",
        "Wer übernimmt am {day} den Tisch?",
        "Die Zahlen für das dritte Quartal sehen gut aus",
        "Ich schaue mir das Term Sheet nach dem Mittag an",
        "Danke {name}, ist angekommen",
        "Bitte das CRM nach jedem Gespräch aktualisieren",
        "Das System ist heute wieder langsam",
        "Kannst du die Abwicklung von {product} prüfen?",
    ),
    "fr": (
        "Bonjour à tous, {product} ouvre à {time}",
        "Tu peux m'envoyer la présentation pour {day} ?",
        "La réunion avec {name} est décalée à {time}",
        "Qui tient le desk {day} ?",
        "Les chiffres du troisième trimestre sont corrects",
        "Je relis la term sheet après le déjeuner",
        "Merci {name}, bien reçu",
        "Pensez à mettre à jour le CRM après chaque appel",
        "Le système est encore lent aujourd'hui",
        "Tu peux vérifier le règlement de {product} ?",
    ),
    "es": (
        "Buenos días, {product} abre a las {time}",
        "¿Me mandas la presentación para el {day}?",
        "La reunión con {name} pasa a las {time}",
        "¿Quién cubre la mesa el {day}?",
        "Las cifras del tercer trimestre están bien",
        "Reviso el term sheet después de comer",
        "Gracias {name}, recibido",
        "Actualizad el CRM después de cada llamada",
        "El sistema va lento otra vez hoy",
        "¿Puedes revisar la liquidación de {product}?",
    ),
    "ja": (
        "おはようございます、{product}は{time}に始まります",
        "{day}の資料を送ってもらえますか",
        "{name}との会議は{time}に変更になりました",
        "第3四半期の数字は問題ありません",
        "ありがとうございます、受け取りました",
        "システムが今日も遅いです",
        "{product}の決済を確認してください",
    ),
}

# Written after the example lexicons were tuned on seed 1, and never tuned on: paraphrases the
# tuning did not see, so the reported figures say something about phrasing the examples were
# not fitted to (docs/supervision.md, "Corpus and precision").
LATER_MISCONDUCT: Final[dict[Topic, dict[Language, tuple[str, ...]]]] = {
    "guarantees": {
        "en": (
            "Honestly {product} cannot fail, you'll be up {pct}% before summer",
            "I personally guarantee the yield on {product}",
            "No risk at all, worst case you get {pct}% back",
        ),
        "de": (
            "Mit {product} kann gar nichts schiefgehen, {pct}% sind drin",
            "Die Rendite von {pct}% ist sicher, darauf gebe ich Ihnen mein Wort",
            "Null Risiko, das Geld ist so gut wie verdoppelt",
        ),
        "fr": (
            "Avec {product}, impossible de se tromper, {pct}% assurés",
            "Je vous assure que vous toucherez {pct}% sans le moindre risque",
            "Vos gains sont garantis, faites-moi confiance",
        ),
        "es": (
            "Con {product} no hay forma de perder, {pct}% asegurado",
            "Le aseguro un {pct}% sin ningún riesgo",
            "Las ganancias están garantizadas, confíe en mí",
        ),
        "ja": ("{product}なら確実に{pct}%の利益が出ます", "元本割れは絶対にありません"),
    },
    "off_channel": {
        "en": (
            "Add me on WhatsApp and we'll sort the allocation there",
            "Email me at my home address, not the work one",
            "I'll call you from my personal phone in five",
        ),
        "de": (
            "Schreib mir auf WhatsApp, dann klären wir das",
            "Meld dich heute Abend auf meinem Privathandy",
            "Schick mir das an meine GMX-Adresse",
        ),
        "fr": (
            "Ajoute-moi sur WhatsApp, on règle ça là-bas",
            "Envoie-moi ça sur mon adresse perso, pas celle du bureau",
            "Je t'appelle depuis mon téléphone personnel",
        ),
        "es": (
            "Agrégame a WhatsApp y lo cerramos por ahí",
            "Mándamelo a mi correo de casa, no al del trabajo",
            "Te llamo desde mi teléfono personal en cinco minutos",
        ),
        "ja": ("詳しくはLINEで送ります", "会社のチャットではなく個人のメールで連絡してください"),
    },
    "gifts": {
        "en": (
            "We're hosting you at the Grand Prix, flights and hotel covered",
            "A small thank-you hamper is on its way to your home",
            "Let me take you and your wife to dinner at Le Bernardin",
        ),
        "de": (
            "Wir übernehmen Flug und Hotel für {event}",
            "Ein kleines Präsent ist an Ihre Privatadresse unterwegs",
            "Darf ich Sie und Ihre Frau zum Essen einladen?",
        ),
        "fr": (
            "On prend en charge le vol et l'hôtel pour {event}",
            "Un panier garni arrive chez vous ce soir",
            "Permettez-moi de vous inviter à dîner avec votre épouse",
        ),
        "es": (
            "Nosotros pagamos el vuelo y el hotel para {event}",
            "Le llega a casa una cesta de agradecimiento",
            "Permítame invitarle a cenar con su esposa",
        ),
        "ja": ("{event}の航空券とホテルはこちらで手配します", "ご自宅に贈答品をお送りしました"),
    },
    "complaints": {
        "en": (
            "This is the third time my trade was booked wrong, I'm escalating this",
            "I never agreed to these fees and I want them reversed",
            "I'm writing to the regulator about your conduct",
        ),
        "de": (
            "Zum dritten Mal falsch gebucht, ich eskaliere das jetzt",
            "Diesen Gebühren habe ich nie zugestimmt, ich will sie erstattet haben",
            "Ich schreibe an die Aufsicht über Ihr Verhalten",
        ),
        "fr": (
            "Troisième erreur sur mon ordre, je fais remonter l'affaire",
            "Je n'ai jamais accepté ces frais, je veux être remboursé",
            "J'écris au régulateur au sujet de votre comportement",
        ),
        "es": (
            "Es la tercera vez que registran mal mi orden, voy a escalarlo",
            "Nunca acepté estas comisiones y quiero que me las devuelvan",
            "Voy a escribir al regulador sobre su conducta",
        ),
        "ja": ("注文の誤りが3回目です、上に報告します", "この手数料には同意していないので返してください"),
    },
}
LATER_NEAR_MISSES: Final[dict[Topic, dict[Language, tuple[str, ...]]]] = {
    "guarantees": {
        "en": ("Capital is not guaranteed, please read the KID", "The bank guarantee for the lease arrived"),
        "de": ("Das Kapital ist nicht garantiert, bitte das Basisinformationsblatt lesen",),
        "fr": ("Le capital n'est pas garanti, lisez le DIC",),
        "es": ("El capital no está garantizado, lea el documento de datos",),
        "ja": ("元本は保証されていません",),
    },
    "off_channel": {
        "en": ("Did you see the WhatsApp fines in the news?", "Signal processing team is hiring"),
        "de": ("Hast du die WhatsApp-Strafen in den Nachrichten gesehen?",),
        "fr": ("Tu as vu les amendes WhatsApp dans la presse ?",),
        "es": ("¿Viste las multas por WhatsApp en las noticias?",),
        "ja": ("LINEの使用に関する研修は明日です",),
    },
    "gifts": {
        "en": ("Gift aid forms are due on Friday", "The client sent back the tickets we offered, per their policy"),
        "de": ("Die Tickets für die Schulung sind gebucht",),
        "fr": ("Le client a renvoyé les billets, conformément à sa politique",),
        "es": ("Las entradas para la formación ya están reservadas",),
        "ja": ("研修のチケットは予約済みです",),
    },
    "complaints": {
        "en": ("Complaint handling training is on Thursday", "Our complaints ratio fell this quarter"),
        "de": ("Die Schulung zum Beschwerdemanagement ist am Donnerstag",),
        "fr": ("La formation sur le traitement des réclamations est jeudi",),
        "es": ("La formación sobre gestión de quejas es el jueves",),
        "ja": ("苦情対応の研修は木曜日です",),
    },
}
