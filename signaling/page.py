"""The pre-call page: one self-contained HTML document in Finnish, Swedish or English.

No external resource (no CDN, font or analytics): the page, its script and its
style come from Kaari in one response, under a strict Content-Security-Policy with
a per-response nonce. The pass arrives in the URL fragment (never sent to a server)
and is removed from the address bar at once.
"""

from __future__ import annotations

import html
import json
import secrets
from importlib import resources
from typing import Literal

Lang = Literal["fi", "sv", "en"]
LANGS: tuple[Lang, ...] = ("fi", "sv", "en")
DEFAULT_LANG: Lang = "fi"

TEXTS: dict[Lang, dict[str, str]] = {
    "fi": {
        "title": "Laitetesti ennen videotapaamista",
        "intro": "Testi tarkistaa kameran, mikrofonin ja verkkoyhteyden ennen videotapaamista. "
        "Kuvasi ja äänesi kulkevat palvelimelle ja takaisin sinulle; mitään ei tallenneta.",
        "start": "Aloita testi",
        "camera": "Kamera",
        "microphone": "Mikrofoni",
        "connection": "Yhteys",
        "rtt": "Viive",
        "checking": "tarkistetaan…",
        "works": "toimii",
        "worksBack": "toimii, kulkee palvelimen kautta takaisin",
        "missing": "ei käytössä: laitetta ei löytynyt tai lupaa ei annettu",
        "host": "suora yhteys samassa verkossa",
        "srflx": "suora yhteys internetin kautta",
        "relay": "välityspalvelimen kautta: toimii, viive voi olla hieman suurempi",
        "connected": "Yhteys toimii.",
        "failed": "Yhteyttä ei saatu. Kokeile toista verkkoa (esimerkiksi mobiilidataa) "
        "tai kerro asiasta terapeutille.",
        "good": "hyvä",
        "fair": "kohtalainen",
        "slow": "hidas, kuva voi pätkiä",
        "ms": "ms",
        "noPass": "Avaa testi Kaari-sovelluksesta.",
        "busy": "Palvelu on juuri nyt varattu. Yritä hetken kuluttua uudelleen.",
        "ended": "Testi päättyi. Voit aloittaa sen uudelleen.",
        "done": "Kaikki on valmiina videotapaamiseen.",
        "hear": "Kuuntele ääneni",
        "language": "Kieli",
    },
    "sv": {
        "title": "Test före videomötet",
        "intro": "Testet kontrollerar kameran, mikrofonen och nätverket före videomötet. "
        "Din bild och ditt ljud går till servern och tillbaka till dig; inget sparas.",
        "start": "Starta testet",
        "camera": "Kamera",
        "microphone": "Mikrofon",
        "connection": "Anslutning",
        "rtt": "Fördröjning",
        "checking": "kontrolleras…",
        "works": "fungerar",
        "worksBack": "fungerar, går via servern och tillbaka",
        "missing": "används inte: ingen enhet hittades eller tillstånd gavs inte",
        "host": "direkt anslutning i samma nätverk",
        "srflx": "direkt anslutning via internet",
        "relay": "via en reläserver: fungerar, fördröjningen kan vara något längre",
        "connected": "Anslutningen fungerar.",
        "failed": "Ingen anslutning. Pröva ett annat nätverk (till exempel mobildata) "
        "eller berätta det för terapeuten.",
        "good": "bra",
        "fair": "godtagbar",
        "slow": "långsam, bilden kan hacka",
        "ms": "ms",
        "noPass": "Öppna testet i Kaari-appen.",
        "busy": "Tjänsten är upptagen just nu. Försök igen om en stund.",
        "ended": "Testet är slut. Du kan starta det igen.",
        "done": "Allt är klart för videomötet.",
        "hear": "Lyssna på mitt ljud",
        "language": "Språk",
    },
    "en": {
        "title": "Check before the video session",
        "intro": "This test checks your camera, microphone and network before the video "
        "session. Your picture and sound go to the server and back to you; nothing is "
        "recorded.",
        "start": "Start the test",
        "camera": "Camera",
        "microphone": "Microphone",
        "connection": "Connection",
        "rtt": "Delay",
        "checking": "checking…",
        "works": "works",
        "worksBack": "works, goes through the server and back",
        "missing": "not in use: no device found or permission not given",
        "host": "direct connection on the same network",
        "srflx": "direct connection over the internet",
        "relay": "through a relay server: works, the delay may be a little longer",
        "connected": "The connection works.",
        "failed": "Could not connect. Try another network (for example mobile data) or "
        "tell your therapist.",
        "good": "good",
        "fair": "fair",
        "slow": "slow, the picture may stutter",
        "ms": "ms",
        "noPass": "Open the test from the Kaari app.",
        "busy": "The service is busy right now. Please try again in a moment.",
        "ended": "The test has ended. You can start it again.",
        "done": "You are all set for the video session.",
        "hear": "Hear my sound",
        "language": "Language",
    },
}


def choose_lang(query: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` wins; then the best of fi/sv/en in Accept-Language; then Finnish."""
    for lang in LANGS:
        if query == lang:
            return lang
    best: Lang = DEFAULT_LANG
    best_rank = (0.0, 0)
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        rank = (quality, -index)
        for lang in LANGS:
            if primary == lang and quality > 0 and rank > best_rank:
                best, best_rank = lang, rank
    return best


def _template() -> str:
    return resources.files("signaling").joinpath("precall.html").read_text("utf-8")


def render(lang: Lang) -> tuple[str, str]:
    """The page in ``lang`` and the nonce its Content-Security-Policy must name."""
    nonce = secrets.token_urlsafe(18)
    texts = TEXTS[lang]
    # JSON inside <script type="application/json">: escape "<" so no text can close it
    data = json.dumps({"lang": lang, "texts": texts}, ensure_ascii=False).replace("<", "\\u003c")
    page = (
        _template().replace("{{lang}}", lang).replace("{{nonce}}", nonce).replace("{{data}}", data)
    )
    for key, value in texts.items():
        page = page.replace("{{t." + key + "}}", html.escape(value))
    return page, nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "connect-src 'self'",
            "media-src 'self' blob: mediastream:",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
