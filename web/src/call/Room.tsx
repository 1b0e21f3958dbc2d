// The room of a video appointment (call/controller.ts): the waiting room (a therapist
// sees who waits and lets them in), each peer's video with its state, and the device's
// own controls: microphone, camera, audio only, leave. Every state a test or support
// needs is also a data- attribute (frames decoded, audio received, the path).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { appointment, type AppointmentOut } from "../appointments";
import { members } from "../family";
import { useApp } from "../context";
import { DICTIONARIES, type Key } from "../i18n";
import { navigate } from "../router";
import { TopBar } from "../screens/TopBar";
import { CallController, type CallView, type Participant, type PeerView } from "./controller";
import "./call.css";

function Media({ stream, kind, id, label }: { stream: MediaStream | null; kind: "video" | "audio"; id?: string; label?: string }) {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el && el.srcObject !== stream) {
      el.srcObject = stream;
      void el.play().catch(() => undefined);
    }
  });
  // the videos are muted: a peer's sound plays from its own audio element
  return kind === "video" ? (
    <video ref={ref} id={id} autoplay playsInline muted aria-label={label} />
  ) : (
    <audio ref={ref} autoplay />
  );
}

export function Room({ appointmentId }: { appointmentId: string }) {
  const { t, session, crypto } = useApp();
  const [view, setView] = useState<CallView | null>(null);
  const [appt, setAppt] = useState<AppointmentOut | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const call = useMemo(() => (session ? new CallController(appointmentId, session, crypto) : null), [appointmentId]);

  useEffect(() => {
    if (!call) return;
    const off = call.subscribe(setView);
    void call.start();
    const leave = () => call.stop();
    addEventListener("pagehide", leave);
    return () => {
      off();
      removeEventListener("pagehide", leave);
      call.stop();
    };
  }, [call]);

  useEffect(() => {
    if (!session) return;
    void appointment(session.token, appointmentId)
      .then(async (a) => {
        setAppt(a);
        const found: Record<string, string> = {};
        for (const c of a.cases) {
          for (const m of await members(session.token, c.caseId).catch(() => [])) found[m.userId] = m.displayName;
        }
        setNames(found);
      })
      .catch(() => undefined);
  }, [appointmentId]);

  if (!session || !call || !view) return null;
  const therapist = session.role === "therapist";
  const caseId = appt?.cases[0]?.caseId ?? null;

  function nameOf(p: { userId: string }): string {
    const part = view?.participants.find((x) => x.userId === p.userId);
    const role = part ? t(`call.role.${part.role}` as Key) : "";
    const name = names[p.userId];
    if (name) return role ? `${name} (${role})` : name;
    return part && part.role !== "therapist" && part.caseId === null && !therapist ? t("call.anotherFamily") : role;
  }

  function back(): void {
    if (therapist) navigate({ name: "week" });
    else if (caseId) navigate({ name: "schedule", caseId, appointmentId: null });
    else navigate({ name: "home" });
  }

  const errorKey = view.error ? (`call.error.${view.error}` as Key) : null;
  const errorText = (key: Key) => (key in DICTIONARIES.en ? t(key) : t("call.error.unknown"));
  const waiting = view.participants.filter((p) => p.status === "waiting");
  const others = view.peers;

  function peerTile(peer: PeerView) {
    const part: Participant | undefined = view?.participants.find((p) => p.deviceId === peer.deviceId);
    const away = part ? !part.connected : false;
    return (
      <section
        key={peer.deviceId}
        class={`call-peer ${peer.state}`}
        data-device-id={peer.deviceId}
        data-state={peer.state}
        data-frames-decoded={peer.stats.framesDecoded}
        data-audio-packets={peer.stats.audioPackets}
        data-audio-energy={peer.stats.audioEnergy}
        data-path={peer.stats.path}
        data-remote-camera={peer.remote.camera ? "on" : "off"}
        data-remote-mic={peer.remote.mic ? "on" : "off"}
        data-ice-restarts={peer.iceRestarts}
        data-ice-current={peer.stats.current ? "yes" : "no"}
        aria-label={nameOf(peer)}
      >
        <Media stream={peer.stream} kind="video" label={nameOf(peer)} />
        <Media stream={peer.stream} kind="audio" />
        <p class="who">{nameOf(peer)}</p>
        <p class="status" role="status">
          {t(`call.state.${peer.state}` as Key)}
          {peer.stats.path && peer.state === "connected" && ` · ${t(peer.stats.path === "relay" ? "call.viaRelay" : "call.direct")}`}
          {!peer.remote.mic && ` · ${t("call.micOff")}`}
          {!peer.remote.camera && ` · ${t("call.cameraOff")}`}
        </p>
        {away && <p class="away">{t("call.away")}</p>}
        {(peer.refused || peer.refusedByPeer) && (
          <p class="error call-refused" role="alert" data-code={peer.refused ?? "refused_by_peer"}>
            {t(peer.refused ? "call.refused" : "call.refusedByPeer")}
          </p>
        )}
        {(peer.state === "connected" || peer.state === "disconnected") && (
          <button type="button" class="secondary call-reconnect" onClick={() => call?.reconnect(peer.deviceId)}>
            {t("call.reconnect")}
          </button>
        )}
        {(peer.refused || peer.refusedByPeer || peer.state === "failed") && (
          <button type="button" class="secondary call-retry" onClick={() => call?.retry(peer.deviceId)}>
            {t("call.retry")}
          </button>
        )}
      </section>
    );
  }

  return (
    <main class="screen wide call" data-phase={view.phase} data-audio-only={view.audioOnly ? "yes" : "no"}>
      <TopBar
        title={t("call.title")}
        back={
          <button type="button" class="link back" aria-label={t("call.back")} onClick={back}>
            ‹
          </button>
        }
      />
      {errorKey && (
        <p class="error" role="alert" id="call-error" data-code={view.error}>
          {errorText(errorKey)}
        </p>
      )}
      {view.phase === "starting" && <p class="muted">{t("call.starting")}</p>}
      {view.phase === "joining" && <p class="muted">{t("call.joining")}</p>}
      {view.phase === "waiting" && (
        <p class="call-waiting" id="call-waiting" role="status">
          {t("call.waiting")}
        </p>
      )}
      {view.phase === "left" ? (
        <section class="call-ended">
          <p id="call-ended">{t("call.ended")}</p>
          <button type="button" onClick={back}>
            {t("call.back")}
          </button>
        </section>
      ) : (
        <>
          {view.audioOnly && (
            <p class="call-audio-only" role="status" id="call-audio-only-note">
              {t("call.audioOnlyOn")}
            </p>
          )}
          {therapist && view.phase === "in" && (
            <section class="call-lobby" aria-labelledby="call-lobby-title">
              <h2 id="call-lobby-title">{t("call.waitingTitle")}</h2>
              {waiting.length === 0 ? (
                <p class="muted">{t("call.nobodyWaiting")}</p>
              ) : (
                <>
                  <ul id="call-waiting-list">
                    {waiting.map((p) => (
                      <li key={p.deviceId} data-device-id={p.deviceId}>
                        <span>{nameOf(p)}</span>
                        <button type="button" class="primary call-admit" onClick={() => call.admit([p.deviceId])}>
                          {t("call.admit")}
                        </button>
                      </li>
                    ))}
                  </ul>
                  {waiting.length > 1 && (
                    <button type="button" id="call-admit-all" class="secondary" onClick={() => call.admit()}>
                      {t("call.admitAll")}
                    </button>
                  )}
                </>
              )}
            </section>
          )}
          <div class="call-grid">
            {others.map(peerTile)}
            {view.phase === "in" && others.length === 0 && <p class="muted call-alone">{t("call.alone")}</p>}
            <section class="call-self">
              <Media stream={view.local} kind="video" id="call-self" label={t("call.you")} />
              <p class="who">{t("call.you")}</p>
            </section>
          </div>
          <div class="call-controls" role="toolbar" aria-label={t("call.title")}>
            <button type="button" id="call-mic" aria-pressed={view.mic} class={view.mic ? "secondary" : "secondary off"} onClick={() => call.toggleMic()}>
              {t("call.mic")}
            </button>
            <button
              type="button"
              id="call-camera"
              aria-pressed={view.camera && !view.audioOnly}
              class={view.camera && !view.audioOnly ? "secondary" : "secondary off"}
              disabled={view.audioOnly}
              onClick={() => call.toggleCamera()}
            >
              {t("call.camera")}
            </button>
            <button type="button" id="call-audio-only" class="secondary" aria-pressed={view.audioOnly} onClick={() => call.setAudioOnly(!view.audioOnly)}>
              {t("call.audioOnly")}
            </button>
            <button type="button" id="call-hangup" class="primary danger" onClick={() => call.hangUp()}>
              {t("call.hangUp")}
            </button>
          </div>
          <details class="call-settings">
            <summary>{t("call.settings")}</summary>
            {view.relayAvailable ? (
              <label>
                <input type="checkbox" id="call-relay-only" checked={view.relayOnly} onChange={(e) => call.setRelayOnly(e.currentTarget.checked)} />{" "}
                {t("call.relayOnly")}
              </label>
            ) : (
              <p class="muted" id="call-no-relay">
                {t("call.noRelay")}
              </p>
            )}
          </details>
        </>
      )}
    </main>
  );
}
