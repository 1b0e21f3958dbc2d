import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError, cases as listCases } from "../api";
import { ZONE } from "../appointments";
import { useApp } from "../context";
import { pairingCode, rememberCase, type PairingCodeOut } from "../family";
import { navigate } from "../router";
import { TopBar } from "./TopBar";
import "../family.css";

const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;

/** "ABCD2345" as "ABCD 2345" (the tablet's field takes either). */
export function grouped(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)} ${code.slice(4)}` : code;
}

/** A guardian shows the child's pairing code (`POST /cases/{id}/pairing-codes`, one use,
 * minutes long): big, in two groups, with the time it stops working; the tablet's
 * `/app/pair` takes it (screens/Pair.tsx). */
export function PairTablet({ caseId }: { caseId: string }) {
  const { t, err, session, locale } = useApp();
  const token = session?.token ?? "";
  const [child, setChild] = useState<string | null>(null);
  const [code, setCode] = useState<PairingCodeOut | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const clock = useMemo(() => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: ZONE, hour: "2-digit", minute: "2-digit" }), [locale]);

  useEffect(() => {
    if (!token || !session) return;
    rememberCase(session.userId, caseId);
    void listCases(token).then((all) => setChild(all.find((c) => c.id === caseId)?.childName ?? null), () => undefined);
  }, [token, caseId]);

  useEffect(() => {
    if (!code) return;
    const timer = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(timer);
  }, [code]);

  async function make(): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      setCode(await pairingCode(token, caseId));
      setNow(Date.now());
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  const name = child ?? t("childOf");
  const expires = code ? Date.parse(code.expiresAt) : 0;
  const expired = code !== null && expires <= now;
  const minutes = Math.max(1, Math.ceil((expires - now) / 60_000));
  return (
    <main class="screen pair-tablet">
      <TopBar
        title={t("pairTitle2", { child: name })}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "home" })}>
            ‹
          </button>
        }
      />
      <section class="card" aria-labelledby="pair-intro">
        <p id="pair-intro" class="lead">{t("pairIntro")}</p>
        {code && !expired && (
          <>
            <h2 class="pair-code-label" id="pair-code-label">{t("pairCodeIs")}</h2>
            <p id="pair-code-shown" class="pair-code" aria-labelledby="pair-code-label" data-code={code.code}>
              {/* one letter at a time for a screen reader */}
              <span aria-hidden="true">{grouped(code.code)}</span>
              <span class="visually-hidden">{code.code.split("").join(" ")}</span>
            </p>
            <p id="pair-expiry" class="pair-expiry">
              <time dateTime={code.expiresAt}>{t("pairValidUntil", { time: clock.format(new Date(expires)), minutes: String(minutes) })}</time>
            </p>
            <p class="lead">{t("pairNext", { child: name })}</p>
          </>
        )}
        {expired && <p id="pair-expired" class="error" role="status">{t("pairExpired")}</p>}
        {error && (
          <p id="pair-tablet-error" class="error" role="alert" data-code={error}>
            {err(error)}
          </p>
        )}
        <button id="pair-new" type="button" class={code && !expired ? "secondary" : "primary"} disabled={busy} onClick={() => void make()}>
          {code ? t("pairAgain") : t("pairShow")}
        </button>
      </section>
    </main>
  );
}
