// Finnish, Swedish and English: every text the app shows, and the server's error codes
// in words. A key missing in one language is a type error.

import { scheduleEn, scheduleFi, scheduleSv } from "./i18n/schedule";
import { childEn, childFi, childSv } from "./i18n/child";
import { filesEn, filesFi, filesSv } from "./i18n/files";
import { familyEn, familyFi, familySv } from "./i18n/family";
import { recoveryEn, recoveryFi, recoverySv } from "./i18n/recovery";
import { inviteEn, inviteFi, inviteSv } from "./i18n/invite";
import { pushEn, pushFi, pushSv } from "./i18n/push";
import { therapistEn, therapistFi, therapistSv } from "./i18n/therapist";
import { scheduleSeriesEn, scheduleSeriesFi, scheduleSeriesSv } from "./i18n/schedule_series";
import { homeworkTherapistEn, homeworkTherapistFi, homeworkTherapistSv } from "./i18n/homework_therapist";
import { liveEn, liveFi, liveSv } from "./i18n/live";
import { readEn, readFi, readSv } from "./i18n/read";
import { callEn, callFi, callSv } from "./i18n/call";
import { unreadEn, unreadFi, unreadSv } from "./i18n/unread";
import { groupEn, groupFi, groupSv } from "./i18n/group";

export type Locale = "fi" | "sv" | "en";
export const LOCALES: readonly Locale[] = ["fi", "sv", "en"];

const en = {
  appName: "Kaari",
  signInTitle: "Sign in",
  signInLead: "Messages between your family and your therapist, end-to-end encrypted.",
  email: "E-mail",
  password: "Password",
  signIn: "Sign in",
  signingIn: "Signing in…",
  signOut: "Sign out",
  language: "Language",
  loading: "Opening…",
  preparing: "Setting up encryption on this device…",
  noCases: "You have no open cases yet. Your therapist sends you an invite.",
  casesTitle: "Your children",
  familyThread: "Messages with the therapist",
  familyThreadOf: "{child}: messages with the therapist",
  messageLabel: "Message",
  messagePlaceholder: "Write a message",
  send: "Send",
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  notSent: "Not sent: tap to try again",
  undecryptable: "This message cannot be read on this device.",
  emptyThread: "No messages yet.",
  you: "You",
  back: "Back",
  unsupported: "This browser cannot run Kaari (it needs Web Workers, IndexedDB and WebAssembly).",
  // the server's error codes (docs/api.md)
  "error.invalid_credentials": "The e-mail or password is wrong.",
  "error.rate_limited": "Too many attempts. Try again in a moment.",
  "error.unauthenticated": "Please sign in again.",
  "error.session_invalid": "This device was signed out. Please sign in again.",
  "error.validation_error": "Check the e-mail and password.",
  "error.network": "No connection to Kaari. Check the network and try again.",
  "error.temporarily_unavailable": "Kaari is briefly unavailable. Try again in a moment.",
  "error.device_set_changed": "Someone's devices changed; the message was not sent. Try again.",
  "error.not_found": "Not found.",
  "error.case_not_found": "This case is no longer available to you.",
  "error.room_not_found": "This conversation is no longer available to you.",
  "error.crypto_failed": "Encryption on this device failed. Reload the page.",
  "error.unknown": "Something went wrong. Try again.",
  ...scheduleEn,
  ...childEn,
  ...filesEn,
  ...familyEn,
  ...recoveryEn,
  ...inviteEn,
  ...pushEn,
  ...therapistEn,
  ...scheduleSeriesEn,
  ...homeworkTherapistEn,
  ...liveEn,
  ...readEn,
  ...callEn,
  ...unreadEn,
  ...groupEn,
};

export type Key = keyof typeof en;
type Dictionary = Record<Key, string>;

const fi: Dictionary = {
  appName: "Kaari",
  signInTitle: "Kirjaudu sisään",
  signInLead: "Perheen ja terapeutin viestit, päästä päähän salattuina.",
  email: "Sähköposti",
  password: "Salasana",
  signIn: "Kirjaudu",
  signingIn: "Kirjaudutaan…",
  signOut: "Kirjaudu ulos",
  language: "Kieli",
  loading: "Avataan…",
  preparing: "Salausta otetaan käyttöön tällä laitteella…",
  noCases: "Sinulla ei ole vielä avoimia asiakkuuksia. Terapeutti lähettää sinulle kutsun.",
  casesTitle: "Lapsesi",
  familyThread: "Viestit terapeutin kanssa",
  familyThreadOf: "{child}: viestit terapeutin kanssa",
  messageLabel: "Viesti",
  messagePlaceholder: "Kirjoita viesti",
  send: "Lähetä",
  sending: "Lähetetään…",
  sent: "Lähetetty",
  delivered: "Toimitettu",
  notSent: "Ei lähetetty: yritä uudelleen napauttamalla",
  undecryptable: "Tätä viestiä ei voi lukea tällä laitteella.",
  emptyThread: "Ei vielä viestejä.",
  you: "Sinä",
  back: "Takaisin",
  unsupported: "Tämä selain ei pysty käyttämään Kaarta (tarvitaan Web Workers, IndexedDB ja WebAssembly).",
  "error.invalid_credentials": "Sähköposti tai salasana on väärin.",
  "error.rate_limited": "Liian monta yritystä. Yritä hetken päästä uudelleen.",
  "error.unauthenticated": "Kirjaudu uudelleen sisään.",
  "error.session_invalid": "Tämä laite on kirjattu ulos. Kirjaudu uudelleen sisään.",
  "error.validation_error": "Tarkista sähköposti ja salasana.",
  "error.network": "Ei yhteyttä Kaareen. Tarkista verkkoyhteys ja yritä uudelleen.",
  "error.temporarily_unavailable": "Kaari ei ole hetkeen käytettävissä. Yritä pian uudelleen.",
  "error.device_set_changed": "Jonkun laitteet muuttuivat, eikä viestiä lähetetty. Yritä uudelleen.",
  "error.not_found": "Ei löytynyt.",
  "error.case_not_found": "Tämä asiakkuus ei ole enää käytettävissäsi.",
  "error.room_not_found": "Tämä keskustelu ei ole enää käytettävissäsi.",
  "error.crypto_failed": "Salaus ei toiminut tällä laitteella. Lataa sivu uudelleen.",
  "error.unknown": "Jokin meni vikaan. Yritä uudelleen.",
  ...scheduleFi,
  ...childFi,
  ...filesFi,
  ...familyFi,
  ...recoveryFi,
  ...inviteFi,
  ...pushFi,
  ...therapistFi,
  ...scheduleSeriesFi,
  ...homeworkTherapistFi,
  ...liveFi,
  ...readFi,
  ...callFi,
  ...unreadFi,
  ...groupFi,
};

const sv: Dictionary = {
  appName: "Kaari",
  signInTitle: "Logga in",
  signInLead: "Meddelanden mellan familjen och terapeuten, krypterade från ände till ände.",
  email: "E-post",
  password: "Lösenord",
  signIn: "Logga in",
  signingIn: "Loggar in…",
  signOut: "Logga ut",
  language: "Språk",
  loading: "Öppnar…",
  preparing: "Krypteringen förbereds på den här enheten…",
  noCases: "Du har inga öppna klientskap ännu. Terapeuten skickar en inbjudan till dig.",
  casesTitle: "Dina barn",
  familyThread: "Meddelanden med terapeuten",
  familyThreadOf: "{child}: meddelanden med terapeuten",
  messageLabel: "Meddelande",
  messagePlaceholder: "Skriv ett meddelande",
  send: "Skicka",
  sending: "Skickar…",
  sent: "Skickat",
  delivered: "Levererat",
  notSent: "Inte skickat: tryck för att försöka igen",
  undecryptable: "Det här meddelandet kan inte läsas på den här enheten.",
  emptyThread: "Inga meddelanden ännu.",
  you: "Du",
  back: "Tillbaka",
  unsupported: "Den här webbläsaren kan inte köra Kaari (Web Workers, IndexedDB och WebAssembly behövs).",
  "error.invalid_credentials": "E-postadressen eller lösenordet är fel.",
  "error.rate_limited": "För många försök. Försök igen om en stund.",
  "error.unauthenticated": "Logga in igen.",
  "error.session_invalid": "Den här enheten har loggats ut. Logga in igen.",
  "error.validation_error": "Kontrollera e-postadressen och lösenordet.",
  "error.network": "Ingen anslutning till Kaari. Kontrollera nätverket och försök igen.",
  "error.temporarily_unavailable": "Kaari är inte tillgängligt för tillfället. Försök snart igen.",
  "error.device_set_changed": "Någons enheter ändrades och meddelandet skickades inte. Försök igen.",
  "error.not_found": "Hittades inte.",
  "error.case_not_found": "Det här klientskapet är inte längre tillgängligt för dig.",
  "error.room_not_found": "Den här konversationen är inte längre tillgänglig för dig.",
  "error.crypto_failed": "Krypteringen misslyckades på den här enheten. Ladda om sidan.",
  "error.unknown": "Något gick fel. Försök igen.",
  ...scheduleSv,
  ...childSv,
  ...filesSv,
  ...familySv,
  ...recoverySv,
  ...inviteSv,
  ...pushSv,
  ...therapistSv,
  ...scheduleSeriesSv,
  ...homeworkTherapistSv,
  ...liveSv,
  ...readSv,
  ...callSv,
  ...unreadSv,
  ...groupSv,
};

export const DICTIONARIES: Record<Locale, Dictionary> = { fi, sv, en };

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** The first of the browser's languages that Kaari speaks; Finnish otherwise. */
export function browserLocale(languages: readonly string[] = navigator.languages): Locale {
  for (const tag of languages) {
    const base = tag.toLowerCase().split("-")[0];
    if (isLocale(base)) return base;
  }
  return "fi";
}

export function translate(locale: Locale, key: Key, vars: Record<string, string> = {}): string {
  let text = DICTIONARIES[locale][key];
  for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
  return text;
}

/** An API error code in words; codes without a text of their own read as "unknown". */
export function errorText(locale: Locale, code: string): string {
  const key = `error.${code}`;
  return key in en ? translate(locale, key as Key) : translate(locale, "error.unknown");
}
