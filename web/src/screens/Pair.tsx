import { useState } from "preact/hooks";

import { ApiError } from "../api";
import { pair } from "../child/api";
import { useApp } from "../context";
import { isLocale } from "../i18n";
import { LanguageSwitch } from "./LanguageSwitch";
import "../child/child.css";

/** A child's tablet signs in with the 8-character code a guardian made
 * (`POST /auth/pair`); the device's crypto then starts as for anyone. */
export function Pair() {
  const { t, err, signIn, locale } = useApp();
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: SubmitEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out = await pair(code, "Kaari web (tablet)");
      setCode("");
      await signIn({
        token: out.token,
        userId: out.user.id,
        matrixUserId: out.user.matrixUserId,
        deviceId: out.deviceId,
        displayName: out.user.displayName,
        role: out.user.role,
        locale: isLocale(out.user.locale) ? out.user.locale : locale,
      });
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen child pair">
      <header class="bar">
        <h1 class="brand">{t("appName")}</h1>
        <LanguageSwitch />
      </header>
      <form class="card" onSubmit={submit} aria-labelledby="pair-title">
        <h2 id="pair-title">{t("pairTitle")}</h2>
        <p class="lead">{t("pairLead")}</p>
        <label for="pair-code">{t("pairCode")}</label>
        <input
          id="pair-code"
          class="code"
          type="text"
          inputmode="text"
          autocomplete="one-time-code"
          autocapitalize="characters"
          spellcheck={false}
          maxLength={9}
          required
          value={code}
          onInput={(e) => setCode(e.currentTarget.value.toUpperCase())}
        />
        {error && (
          <p id="pair-error" class="error" role="alert" data-code={error}>
            {err(error)}
          </p>
        )}
        <button id="pair" type="submit" class="primary big" disabled={busy || code.replace(/[\s-]/g, "").length !== 8}>
          {busy ? t("pairing") : t("pairButton")}
        </button>
      </form>
    </main>
  );
}
