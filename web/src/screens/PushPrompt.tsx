import { useEffect, useState } from "preact/hooks";

import { ApiError } from "../api";
import { useApp } from "../context";
import { dismissPrompt, enablePush, promptDismissed, pushState, type PushState } from "../push";
import "./push.css";

function codeOf(x: unknown): string {
  return x instanceof ApiError ? x.code : "push_failed";
}

/** The button that turns notifications on (browsers ask for permission only after a
 * tap); ``compact`` is the banner on the family thread, which "Not now" hides. */
export function PushControl({ compact }: { compact: boolean }) {
  const { t, err, session, locale } = useApp();
  const lead = session?.role === "child" ? t("pushPromptLeadChild") : t("pushPromptLead");
  const [state, setState] = useState<PushState | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [hidden, setHidden] = useState(() => compact && promptDismissed());

  useEffect(() => {
    void pushState().then(setState, () => setState("unsupported"));
  }, []);

  async function enable() {
    if (!session || busy) return;
    setBusy(true);
    setError(null);
    try {
      await enablePush(session.token, locale);
      setState("on");
    } catch (x) {
      setError(codeOf(x));
      setState(await pushState().catch(() => "unsupported" as const));
    } finally {
      setBusy(false);
    }
  }

  if (state === null || hidden) return null;
  if (compact && state !== "default" && !error) return null;
  const id = compact ? "push-prompt" : "push-settings";
  return (
    <section id={id} class={compact ? "push-prompt" : "push-status"} data-state={state} aria-label={t("settingsNotifications")}>
      {state === "default" && <p>{lead}</p>}
      {state === "on" && <p class="push-on" role="status">{t("pushOn")}</p>}
      {state === "denied" && <p>{t("pushDenied")}</p>}
      {state === "unsupported" && <p>{t("pushUnsupported")}</p>}
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      {state === "default" && (
        <div class="push-buttons">
          <button id={`${id}-enable`} type="button" class="primary" disabled={busy} onClick={() => void enable()}>
            {busy ? t("pushEnabling") : t("pushEnable")}
          </button>
          {compact && (
            <button
              id="push-later"
              type="button"
              class="link"
              onClick={() => {
                dismissPrompt();
                setHidden(true);
              }}
            >
              {t("pushLater")}
            </button>
          )}
        </div>
      )}
    </section>
  );
}
