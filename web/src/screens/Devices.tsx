import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError, request } from "../api";
import { useApp } from "../context";
import { navigate } from "../router";
import { TopBar } from "./TopBar";

/** GET /devices (docs/api.md) */
interface DeviceOut {
  id: string;
  name: string;
  platform: string;
  createdAt: string;
  lastSeenAt: string;
  current: boolean;
}

const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;

/** The account's devices: name, last used, "this device"; sign out another one (a lost
 * phone) after a confirmation: DELETE /devices/{id}. */
export function Devices() {
  const { t, err, session, locale } = useApp();
  const [devices, setDevices] = useState<DeviceOut[] | null>(null);
  const [confirming, setConfirming] = useState<DeviceOut | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const when = useMemo(
    () =>
      new Intl.DateTimeFormat(DATE_LOCALES[locale], {
        timeZone: "Europe/Helsinki",
        day: "numeric",
        month: "numeric",
        year: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      }),
    [locale],
  );

  async function load(): Promise<void> {
    if (!session) return;
    try {
      setDevices(await request<DeviceOut[]>("GET", "/devices", session.token));
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  useEffect(() => {
    void load();
  }, [session?.token]);

  // the question takes the focus (on "Cancel": the safe answer), for keyboards and readers
  useEffect(() => {
    if (confirming) cancel.current?.focus();
  }, [confirming?.id]);

  async function revoke(device: DeviceOut): Promise<void> {
    if (!session) return;
    setBusy(true);
    setError(null);
    try {
      await request<void>("DELETE", `/devices/${device.id}`, session.token);
      setDone(device.name);
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
      setConfirming(null);
      await load();
    }
  }

  return (
    <main class="screen devices">
      <TopBar
        title={t("devicesTitle")}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "home" })}>
            ‹
          </button>
        }
      />
      <p class="lead pad">{t("devicesLead")}</p>
      {done && (
        <p class="notice" role="status" id="revoked">
          {t("revoked", { name: done })}
        </p>
      )}
      {error && (
        <p class="error" role="alert" id="devices-error" data-code={error}>
          {err(error)}
        </p>
      )}
      {!devices && !error && <p class="muted">{t("loading")}</p>}
      {devices && (
        <ul class="device-list" aria-label={t("devicesTitle")}>
          {devices.map((d) => (
            <li key={d.id} class={d.current ? "device current" : "device"} data-device-id={d.id}>
              <p class="device-name">
                {d.name}
                {d.current && <span class="badge"> {t("thisDevice")}</span>}
              </p>
              <p class="meta">
                {t("lastSeen", { when: when.format(new Date(d.lastSeenAt)) })}
                <br />
                {t("signedInAt", { when: when.format(new Date(d.createdAt)) })}
              </p>
              {!d.current && confirming?.id !== d.id && (
                <button
                  type="button"
                  class="secondary revoke"
                  aria-label={t("revokeLabel", { name: d.name })}
                  onClick={() => {
                    setDone(null);
                    setConfirming(d);
                  }}
                >
                  {t("revoke")}
                </button>
              )}
              {confirming?.id === d.id && (
                <div class="confirm" role="alertdialog" aria-labelledby={`confirm-${d.id}`}>
                  <p id={`confirm-${d.id}`}>{t("revokeConfirm", { name: d.name })}</p>
                  <div class="row">
                    <button type="button" class="primary danger" id="revoke-yes" disabled={busy} onClick={() => void revoke(d)}>
                      {t("revokeYes")}
                    </button>
                    <button type="button" class="secondary" id="revoke-no" ref={cancel} disabled={busy} onClick={() => setConfirming(null)}>
                      {t("revokeCancel")}
                    </button>
                  </div>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
