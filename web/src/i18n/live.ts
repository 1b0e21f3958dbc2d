// The live notices' texts (live.ts, useLive.ts): whether changes show as they happen, the
// therapist's one-tap "seen" on a cancellation and what the period has used, in
// Finnish, Swedish and English; spread into i18n.ts's dictionaries.

export const liveEn = {
  "live.open": "Changes appear here as they happen.",
  "live.down": "Reconnecting… Meanwhile this is checked about once a minute.",
  "live.ack": "Mark as seen",
  "live.acking": "Marking…",
  "live.seenByMe": "You saw it at {time}",
  "live.seenBy": "Seen by {name} at {time}",
  "live.period": "Period: {used} of {granted} used, {left} left",
  "live.noPeriod": "No therapy period covers this day.",
};

type LiveDictionary = Record<keyof typeof liveEn, string>;

export const liveFi: LiveDictionary = {
  "live.open": "Muutokset näkyvät täällä heti.",
  "live.down": "Yhdistetään uudelleen… Sillä välin tiedot tarkistetaan noin minuutin välein.",
  "live.ack": "Merkitse nähdyksi",
  "live.acking": "Merkitään…",
  "live.seenByMe": "Näit klo {time}",
  "live.seenBy": "{name} näki klo {time}",
  "live.period": "Jakso: {used}/{granted} käytetty, {left} jäljellä",
  "live.noPeriod": "Mikään terapiajakso ei kata tätä päivää.",
};

export const liveSv: LiveDictionary = {
  "live.open": "Ändringar syns här direkt.",
  "live.down": "Ansluter igen… Under tiden kontrolleras detta ungefär en gång i minuten.",
  "live.ack": "Markera som sedd",
  "live.acking": "Markerar…",
  "live.seenByMe": "Du såg den kl. {time}",
  "live.seenBy": "Sett av {name} kl. {time}",
  "live.period": "Perioden: {used} av {granted} använda, {left} kvar",
  "live.noPeriod": "Ingen terapiperiod täcker den här dagen.",
};
