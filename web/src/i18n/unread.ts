// Unread counts (the badges of screens/UnreadBadge.tsx, counted by crypto/unread.ts) in
// Finnish, Swedish and English; spread into i18n.ts's dictionaries.

export const unreadEn = {
  "unread.one": "1 unread message",
  "unread.some": "{n} unread messages",
  "unread.many": "More than 9 unread messages",
};

export const unreadFi: typeof unreadEn = {
  "unread.one": "1 lukematon viesti",
  "unread.some": "{n} lukematonta viestiä",
  "unread.many": "Yli 9 lukematonta viestiä",
};

export const unreadSv: typeof unreadEn = {
  "unread.one": "1 oläst meddelande",
  "unread.some": "{n} olästa meddelanden",
  "unread.many": "Fler än 9 olästa meddelanden",
};
