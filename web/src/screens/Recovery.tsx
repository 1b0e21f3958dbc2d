import { useEffect, useState } from "preact/hooks";

import { cases as listCases } from "../api";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";
import type { BackupStatus } from "../crypto/protocol";
import { chosenCase } from "../family";
import { navigate } from "../router";
import { TopBar } from "./TopBar";

type Step =
  | { kind: "status" }
  | { kind: "show"; recoveryKey: string } // written down?
  | { kind: "confirm"; recoveryKey: string } // typed back
  | { kind: "saved" }
  | { kind: "restored"; count: number };

function code(x: unknown): string {
  return x instanceof CryptoError ? x.code : "unknown";
}

/** Save the recovery key (a new key backup: shown once, typed back to confirm), or, on a
 * device without it, restore the earlier messages' keys with it (crypto/backup.ts). */
export function Recovery() {
  const { t, err, crypto, session } = useApp();

  /** Back to the messages: the family thread of the child chosen on the home screen
   * (which goes to the thread by itself only once per page load). */
  async function toMessages(): Promise<void> {
    const open = session ? (await listCases(session.token).catch(() => [])).filter((c) => c.closedAt === null) : [];
    const chosen = session ? chosenCase(session.userId, open) : null;
    navigate(chosen ? { name: "thread", caseId: chosen.id, kind: "family" } : { name: "home" });
  }
  const [status, setStatus] = useState<BackupStatus | null>(null);
  const [step, setStep] = useState<Step>({ kind: "status" });
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function refresh(): Promise<void> {
    try {
      setStatus(await crypto.call<"backupStatus">({ op: "backupStatus" }));
    } catch (x) {
      setError(code(x));
    }
  }

  useEffect(() => {
    void refresh();
  }, []);

  async function run(work: () => Promise<void>): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (x) {
      setError(code(x));
    } finally {
      setBusy(false);
    }
  }

  const create = () =>
    run(async () => {
      const { recoveryKey } = await crypto.call<"backupPrepare">({ op: "backupPrepare" });
      setTyped("");
      setStep({ kind: "show", recoveryKey });
    });

  const commit = (e: SubmitEvent) => {
    e.preventDefault();
    void run(async () => {
      await crypto.call<"backupCommit">({ op: "backupCommit", recoveryKey: typed });
      setTyped("");
      setStep({ kind: "saved" });
      await refresh();
    });
  };

  const restore = (e: SubmitEvent) => {
    e.preventDefault();
    void run(async () => {
      const out = await crypto.call<"backupRestore">({ op: "backupRestore", recoveryKey: typed });
      setTyped("");
      setStep({ kind: "restored", count: out.imported });
      await refresh();
    });
  };

  const back = (
    <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "home" })}>
      ‹
    </button>
  );
  const canRestore = status !== null && status.serverVersion !== null && !status.active;
  // the error under the button that caused it (in view on a phone), else at the end
  const inForm = step.kind === "confirm" || (step.kind === "status" && canRestore);
  const errorLine = error && (
    <p class="error" role="alert" id="recovery-error" data-code={error}>
      {err(error)}
    </p>
  );

  return (
    <main class="screen recovery">
      <TopBar title={t("recoveryTitle")} back={back} />
      <section class="card">
        <p class="lead">{t("recoveryLead")}</p>
        {step.kind === "status" && !status && !error && <p class="muted">{t("loading")}</p>}

        {step.kind === "status" && status && (
          <>
            <p id="backup-state" data-state={status.active ? "active" : canRestore ? "other" : "none"}>
              {status.active ? t("recoveryActive") : canRestore ? t("recoveryOther") : t("recoveryNone")}
            </p>
            {canRestore && (
              <form class="stack" onSubmit={restore}>
                <h2 id="restore-title">{t("restoreOffer")}</h2>
                <p class="muted-inline">{t("restoreLead")}</p>
                <label for="restore-key">{t("restoreLabel")}</label>
                <textarea
                  id="restore-key"
                  class="key-input"
                  rows={3}
                  autocomplete="off"
                  spellcheck={false}
                  autocapitalize="off"
                  value={typed}
                  onInput={(e) => setTyped(e.currentTarget.value)}
                />
                <button id="restore" type="submit" class="primary" disabled={busy || !typed.trim()}>
                  {busy ? t("restoring") : t("restoreButton")}
                </button>
                {errorLine}
              </form>
            )}
            {status.serverVersion !== null && <p class="muted-inline">{t("recoveryReplaceWarn")}</p>}
            <button
              id="create-key"
              type="button"
              class={status.serverVersion === null ? "primary" : "secondary"}
              disabled={busy}
              onClick={() => void create()}
            >
              {status.serverVersion === null ? t("recoveryCreate") : t("recoveryNew")}
            </button>
          </>
        )}

        {step.kind === "show" && (
          <>
            <p>{t("recoveryShowLead")}</p>
            <p class="key-label" id="recovery-key-label">
              {t("recoveryKeyLabel")}
            </p>
            <output id="recovery-key" class="recovery-key" aria-labelledby="recovery-key-label">
              {step.recoveryKey}
            </output>
            <button id="written" type="button" class="primary" onClick={() => setStep({ kind: "confirm", recoveryKey: step.recoveryKey })}>
              {t("recoveryWritten")}
            </button>
          </>
        )}

        {step.kind === "confirm" && (
          <form class="stack" onSubmit={commit}>
            <label for="confirm-key">{t("recoveryConfirmLabel")}</label>
            <textarea
              id="confirm-key"
              class="key-input"
              rows={3}
              autocomplete="off"
              spellcheck={false}
              autocapitalize="off"
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
            <button id="confirm" type="submit" class="primary" disabled={busy || !typed.trim()}>
              {busy ? t("recoverySaving") : t("recoveryConfirm")}
            </button>
            {errorLine}
            <button type="button" class="secondary" onClick={() => setStep({ kind: "show", recoveryKey: step.recoveryKey })}>
              {t("back")}
            </button>
          </form>
        )}

        {step.kind === "saved" && (
          <p id="recovery-saved" role="status">
            {t("recoverySaved")}
          </p>
        )}
        {step.kind === "restored" && (
          <p id="restored" role="status">
            {t("restored", { count: String(step.count) })}
          </p>
        )}
        {(step.kind === "saved" || step.kind === "restored") && (
          <button id="to-messages" type="button" class="primary" onClick={() => void toMessages()}>
            {t("backToMessages")}
          </button>
        )}

        {error && !inForm && errorLine}
      </section>
    </main>
  );
}
