// "Terhi is verified" in the family thread's header: the case's therapists whose
// identity this user signed (the first-visit QR, screens/Invite.tsx), as the device's
// OlmMachine sees it (crypto/verify.ts verifiedUsers).

import { useEffect, useState } from "preact/hooks";

import { members } from "../child/api";
import { useApp } from "../context";
import { serverName } from "../session";

export function VerifiedBadge({ caseId }: { caseId: string }) {
  const { t, session, crypto } = useApp();
  const [names, setNames] = useState<string[]>([]);

  useEffect(() => {
    if (!session) return;
    let live = true;
    void (async () => {
      try {
        const server = serverName(session);
        const therapists = (await members(session.token, caseId)).filter((m) => m.role === "therapist");
        const byUser = new Map(therapists.map((m) => [`@${m.userId}:${server}`, m.displayName]));
        const { users } = await crypto.call<"verifiedUsers">({ op: "verifiedUsers", users: [...byUser.keys()] });
        if (live) setNames(users.map((u) => byUser.get(u) ?? "").filter(Boolean));
      } catch {
        if (live) setNames([]); // no badge: nothing claimed
      }
    })();
    return () => {
      live = false;
    };
  }, [caseId, session?.token]);

  if (names.length === 0) return null;
  return (
    <ul class="verified-badges">
      {names.map((name) => (
        <li key={name} class="verified-badge" title={t("verifiedBadgeLabel", { name })} aria-label={t("verifiedBadgeLabel", { name })}>
          <span aria-hidden="true">✓ </span>
          {t("verifiedBadge", { name })}
        </li>
      ))}
    </ul>
  );
}
