// A task's title, decrypted in the crypto worker from its org.kaari.homework.task event
// (client/homework_content.py), checked to name the task it is served under.

import type { CryptoClient } from "../crypto/client";

export const TASK_EVENT = "org.kaari.homework.task";

export interface TaskText {
  emoji: string; // a leading emoji of the title, shown big; a star otherwise
  words: string; // the rest of the title
  title: string;
}

const LEADING = /^\s*((?:\p{Extended_Pictographic}|\p{Regional_Indicator})(?:\uFE0F|\u200D|\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator})*)\s*/u;

export function split(title: string): TaskText {
  const m = LEADING.exec(title);
  if (m?.[1]) return { emoji: m[1], words: title.slice(m[0].length) || title, title };
  return { emoji: "⭐", words: title, title };
}

/** The task's text, or null when this device has no key for it yet (or the event is
 * not this task's: a server that moved ids shows nothing, never another title). */
export async function taskText(crypto: CryptoClient, roomId: string, eventId: string, taskId: string): Promise<TaskText | null> {
  const { event } = await crypto.call<"readEvent">({ op: "readEvent", roomId, eventId });
  const content = event?.content;
  if (event?.type !== TASK_EVENT || !content || content["task_id"] !== taskId) return null;
  const title = content["title"];
  if (typeof title !== "string" || title.length === 0 || title.length > 200) return null;
  return split(title);
}
