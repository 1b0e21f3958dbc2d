// Read receipts in the threads (screens/Thread.tsx; the encrypted org.kaari.read events of crypto/receipts.ts) in Finnish,
// Swedish and English; spread into i18n.ts's dictionaries.

export const readEn = {
  readAt: "Read {time}",
};

export const readFi: typeof readEn = {
  readAt: "Luettu {time}",
};

export const readSv: typeof readEn = {
  readAt: "Läst {time}",
};
