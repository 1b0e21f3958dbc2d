// Group video sessions' texts (call/controller.ts, call/Room.tsx): a room whose last
// seats are kept for families not here yet, in Finnish, Swedish and English; spread
// into i18n.ts's dictionaries.

export const groupEn = {
  "call.error.room_seats_kept":
    "The room's last seats are kept for the families who have not joined yet. Join from one device per family, or try again when everyone is in.",
};

type GroupDictionary = Record<keyof typeof groupEn, string>;

export const groupFi: GroupDictionary = {
  "call.error.room_seats_kept":
    "Huoneen viimeiset paikat on varattu perheille, jotka eivät ole vielä tulleet. Liity yhdeltä laitteelta perhettä kohden tai yritä uudelleen, kun kaikki ovat paikalla.",
};

export const groupSv: GroupDictionary = {
  "call.error.room_seats_kept":
    "Rummets sista platser hålls för familjerna som inte har anslutit ännu. Anslut från en enhet per familj, eller försök igen när alla är med.",
};
