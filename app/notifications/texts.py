"""What notices say, in Finnish, Swedish and English, chosen by the recipient's locale.

No text names a child, a diagnosis, a place or a reason: an e-mail or SMS passes through
third parties, so it only says that something happened and to open the app. Push
payloads carry no text at all (the app words them itself).
"""

from __future__ import annotations

from app.core import events as ev

DEFAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    ev.MESSAGE: ("push",),
    ev.APPOINTMENT_SCHEDULED: ("push",),
    ev.APPOINTMENT_RESCHEDULED: ("push",),
    ev.APPOINTMENT_CANCELLED: ("push", "email"),
    ev.CANCELLATION_SEEN: ("push",),
    ev.SESSION_REMINDER: ("push",),
    ev.PERIOD_SESSIONS_LOW: ("push", "email"),
    ev.PERIOD_ENDING: ("push", "email"),
    ev.HOMEWORK_ASSIGNED: ("push",),
    ev.HOMEWORK_TICKED: ("push",),
    ev.HOMEWORK_REMINDER: ("push",),
    ev.DOCUMENT_SHARED: ("push", "email"),
    ev.DOCUMENT_REQUESTED: ("push",),
    ev.DOCUMENT_REQUEST_CLOSED: ("push", "email"),
    ev.DOCUMENT_REQUEST_DUE: ("push", "email"),
    ev.CASE_HANDED_OVER: ("push", "email"),
}

_TEXTS: dict[str, dict[str, str]] = {
    ev.CASE_HANDED_OVER: {
        "fi": "Kaari: lapsesi terapeutti on vaihtunut. Avaa sovellus.",
        "sv": "Kaari: ert barns terapeut har bytts. Öppna appen.",
        "en": "Kaari: your child's therapist has changed. Open the app.",
    },
    ev.PASSWORD_RESET: {
        "fi": "Kaari: salasanan vaihtolinkki (voimassa hetken, kerran). Jos et pyytänyt "
        "sitä, älä tee mitään. Viestihistorian palauttaa palautusavain, ei salasana:",
        "sv": "Kaari: länk för att byta lösenord (gäller kort tid, en gång). Om du inte bad "
        "om den, gör ingenting. Meddelandehistoriken återställs med återställningsnyckeln:",
        "en": "Kaari: a link to set a new password (works once, for a short time). If you "
        "did not ask for it, do nothing. Your recovery key, not the password, restores "
        "message history:",
    },
    ev.MESSAGE: {
        "fi": "Kaari: sinulle on uusi viesti. Avaa sovellus lukeaksesi sen.",
        "sv": "Kaari: du har ett nytt meddelande. Öppna appen för att läsa det.",
        "en": "Kaari: you have a new message. Open the app to read it.",
    },
    ev.APPOINTMENT_SCHEDULED: {
        "fi": "Kaari: uusi terapiakäynti on sovittu. Katso tiedot sovelluksesta.",
        "sv": "Kaari: ett nytt terapibesök har bokats. Se detaljerna i appen.",
        "en": "Kaari: a new session has been scheduled. Open the app for details.",
    },
    ev.APPOINTMENT_RESCHEDULED: {
        "fi": "Kaari: terapiakäynnin aika on muuttunut. Katso tiedot sovelluksesta.",
        "sv": "Kaari: tiden för ett terapibesök har ändrats. Se detaljerna i appen.",
        "en": "Kaari: a session has been moved. Open the app for details.",
    },
    ev.APPOINTMENT_CANCELLED: {
        "fi": "Kaari: terapiakäynti on peruttu. Avaa sovellus.",
        "sv": "Kaari: ett terapibesök har ställts in. Öppna appen.",
        "en": "Kaari: a session was cancelled. Open the app.",
    },
    ev.CANCELLATION_SEEN: {
        "fi": "Kaari: peruutuksesi on nähty. Avaa sovellus.",
        "sv": "Kaari: din avbokning har setts. Öppna appen.",
        "en": "Kaari: your cancellation has been seen. Open the app.",
    },
    ev.SESSION_REMINDER: {
        "fi": "Kaari: muistutus huomisesta terapiakäynnistä. Katso aika sovelluksesta.",
        "sv": "Kaari: påminnelse om morgondagens terapibesök. Se tiden i appen.",
        "en": "Kaari: a reminder of tomorrow's session. Open the app for the time.",
    },
    ev.PERIOD_SESSIONS_LOW: {
        "fi": "Kaari: terapiajaksosta on jäljellä enää muutama käynti. Avaa sovellus.",
        "sv": "Kaari: bara några besök återstår av terapiperioden. Öppna appen.",
        "en": "Kaari: only a few sessions of the therapy period remain. Open the app.",
    },
    ev.PERIOD_ENDING: {
        "fi": "Kaari: terapiajakso päättyy kahden kuukauden kuluttua. Varatkaa lääkärin "
        "vastaanotto seuraavaa jaksoa varten.",
        "sv": "Kaari: terapiperioden slutar om två månader. Boka läkarbesöket för nästa period.",
        "en": "Kaari: the therapy period ends in two months. Book the doctor's visit for "
        "the next period.",
    },
    ev.HOMEWORK_ASSIGNED: {
        "fi": "Kaari: uusi kotitehtävä. Katso se sovelluksesta.",
        "sv": "Kaari: en ny hemuppgift. Se den i appen.",
        "en": "Kaari: new homework. Open the app to see it.",
    },
    ev.HOMEWORK_TICKED: {
        "fi": "Kaari: kotitehtäviä on merkitty tehdyiksi. Katso edistyminen sovelluksesta.",
        "sv": "Kaari: hemuppgifter har markerats som gjorda. Se framstegen i appen.",
        "en": "Kaari: homework has been ticked off. Open the app to see the progress.",
    },
    ev.DOCUMENT_SHARED: {
        "fi": "Kaari: sinulle on jaettu asiakirja. Avaa se sovelluksessa.",
        "sv": "Kaari: ett dokument har delats med dig. Öppna det i appen.",
        "en": "Kaari: a document has been shared with you. Open it in the app.",
    },
    ev.DOCUMENT_REQUESTED: {
        "fi": "Kaari: perhe pyytää asiakirjaa. Katso eräpäivä sovelluksesta.",
        "sv": "Kaari: familjen ber om ett dokument. Se datumet i appen.",
        "en": "Kaari: a family asks for a document. Open the app for the date.",
    },
    ev.DOCUMENT_REQUEST_CLOSED: {
        "fi": "Kaari: pyytämäsi asiakirja on saapunut. Avaa se sovelluksessa.",
        "sv": "Kaari: dokumentet du bad om har kommit. Öppna det i appen.",
        "en": "Kaari: the document you asked for has arrived. Open it in the app.",
    },
    ev.DOCUMENT_REQUEST_DUE: {
        "fi": "Kaari: perheen pyytämä asiakirja tarvitaan viikon sisällä. Avaa sovellus.",
        "sv": "Kaari: ett dokument som familjen bett om behövs inom en vecka. Öppna appen.",
        "en": "Kaari: a document a family asked for is needed within a week. Open the app.",
    },
    ev.HOMEWORK_REMINDER: {
        "fi": "Kaari: muistathan tämän päivän kotitehtävät.",
        "sv": "Kaari: kom ihåg dagens hemuppgifter.",
        "en": "Kaari: a reminder of today's homework.",
    },
}

# a child's device: friendlier words, still nothing specific
_CHILD_TEXTS: dict[str, dict[str, str]] = {
    ev.APPOINTMENT_CANCELLED: {
        "fi": "Kaari: sovittu terapiahetki jää tällä kertaa väliin. Nähdään pian!",
        "sv": "Kaari: den här gången blir det ingen terapistund. Vi ses snart!",
        "en": "Kaari: this time there is no therapy session. See you soon!",
    },
    ev.SESSION_REMINDER: {
        "fi": "Kaari: huomenna on terapiahetki!",
        "sv": "Kaari: i morgon är det terapistund!",
        "en": "Kaari: tomorrow is a therapy day!",
    },
    ev.HOMEWORK_ASSIGNED: {
        "fi": "Kaari: sinulle on uusi tehtävä!",
        "sv": "Kaari: du har en ny uppgift!",
        "en": "Kaari: you have a new task!",
    },
    ev.HOMEWORK_REMINDER: {
        "fi": "Kaari: tämän päivän tehtävät odottavat sinua!",
        "sv": "Kaari: dagens uppgifter väntar på dig!",
        "en": "Kaari: today's tasks are waiting for you!",
    },
}

CALENDAR_SUMMARY = {"fi": "Terapiakäynti", "sv": "Terapibesök", "en": "Therapy session"}
CALENDAR_NAME = {"fi": "Kaari: terapiakäynnit", "sv": "Kaari: terapibesök", "en": "Kaari: sessions"}

PLACE_KINDS: dict[str, dict[str, str]] = {
    "home": {"fi": "Koti", "sv": "Hemma", "en": "Home"},
    "school": {"fi": "Koulu", "sv": "Skola", "en": "School"},
    "daycare": {"fi": "Päiväkoti", "sv": "Daghem", "en": "Daycare"},
    "office": {"fi": "Vastaanotto", "sv": "Mottagning", "en": "Office"},
    "video": {"fi": "Etäyhteys", "sv": "Videosamtal", "en": "Video call"},
    "other": {"fi": "Muu paikka", "sv": "Annan plats", "en": "Other place"},
}


def text(kind: str, locale: str, *, child: bool = False) -> str:
    table = _CHILD_TEXTS.get(kind) if child else None
    table = table or _TEXTS[kind]
    return table.get(locale) or table["en"]


def place(kind: str, locale: str) -> str:
    names = PLACE_KINDS.get(kind, PLACE_KINDS["other"])
    return names.get(locale) or names["en"]
