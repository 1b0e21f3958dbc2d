import { useState } from "preact/hooks";

import { ApiError, login } from "../api";
import { useApp } from "../context";
import { isLocale } from "../i18n";
import { LanguageSwitch } from "./LanguageSwitch";

export function deviceName(): string {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `Kaari web (${os})` : "Kaari web";
}

export function SignIn() {
  const { t, err, signIn, locale } = useApp();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: SubmitEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out = await login(email.trim(), password, deviceName());
      setPassword("");
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
    <main class="screen signin">
      <header class="bar">
        <h1 class="brand">{t("appName")}</h1>
        <LanguageSwitch />
      </header>
      <form class="card" onSubmit={submit} aria-labelledby="signin-title">
        <h2 id="signin-title">{t("signInTitle")}</h2>
        <p class="lead">{t("signInLead")}</p>
        <label for="email">{t("email")}</label>
        <input
          id="email"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="password">{t("password")}</label>
        <input
          id="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {error && (
          <p id="signin-error" class="error" role="alert" data-code={error}>
            {err(error)}
          </p>
        )}
        <button id="signin" type="submit" class="primary" disabled={busy}>
          {busy ? t("signingIn") : t("signIn")}
        </button>
      </form>
      <a id="to-pair" class="muted center" href="/app/pair">{t("pairLink")}</a>
    </main>
  );
}
