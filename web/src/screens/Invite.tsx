// /app/invite: a parent accepts the therapist's invite from the first-visit QR code
// (scanned with the camera, read from a photo — BarcodeDetector or, without it, jsQR via
// qrscan.ts — or its text pasted; a link
// /app/invite#<the text> fills it in), creates the account (or, signed in, joins with
// it), and the new device verifies the therapist: the master key the server returns
// must be the QR's before the parent's user-signing key signs it (crypto/verify.ts).
// A key that is not the therapist's is refused by the server (409
// inviter_key_mismatch, nothing created) and shown as a warning.

import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, cases as listCases } from "../api";
import { members } from "../child/api";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";
import {
  acceptInvite,
  clearPending,
  fromFragment,
  InviteQrError,
  loadPending,
  readInviteText,
  redeemInvite,
  savePending,
  type InviteQr,
  type PendingVerification,
} from "../invite";
import { isLocale } from "../i18n";
import { FRAME_WIDTH, PHOTO_WIDTH, qrReader, type QrReader } from "../qrscan";
import { navigate } from "../router";
import { serverName, type Session } from "../session";
import { LanguageSwitch } from "./LanguageSwitch";
import { deviceName } from "./SignIn";
import { TopBar } from "./TopBar";

const WARNINGS = new Set(["inviter_key_mismatch", "master_key_mismatch"]);

function codeOf(x: unknown): string {
  if (x instanceof ApiError || x instanceof InviteQrError || x instanceof CryptoError) return x.code;
  return "unknown";
}

function Problem({ code }: { code: string }) {
  const { t, err } = useApp();
  if (WARNINGS.has(code)) {
    return (
      <div id="invite-error" class="warning" role="alert" data-code={code}>
        <p class="warning-title">{t("inviteWarningTitle")}</p>
        <p>{err(code)}</p>
      </div>
    );
  }
  return (
    <p id="invite-error" class="error" role="alert" data-code={code}>
      {err(code)}
    </p>
  );
}

/** The QR: camera, photo or pasted text. */
function ReadQr({ onRead }: { onRead: (qr: InviteQr) => void }) {
  const { t } = useApp();
  const [text, setText] = useState(() => fromFragment(location.hash.slice(1)));
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const stream = useRef<MediaStream | null>(null);
  const reader = useRef<QrReader | null>(null);
  const canScan = !!navigator.mediaDevices?.getUserMedia;

  function take(value: string): boolean {
    try {
      onRead(readInviteText(value));
      return true;
    } catch (x) {
      setText(value);
      setError(codeOf(x));
      return false;
    }
  }

  function stopCamera() {
    for (const track of stream.current?.getTracks() ?? []) track.stop();
    stream.current = null;
    setScanning(false);
  }

  useEffect(() => stopCamera, []);

  async function startCamera() {
    setError(null);
    setNote(null);
    try {
      reader.current = await qrReader();
      stream.current = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch {
      setNote(t("inviteCameraFailed"));
      return;
    }
    setScanning(true);
  }

  useEffect(() => {
    if (!scanning || !video.current || !stream.current) return;
    const el = video.current;
    el.srcObject = stream.current;
    void el.play().catch(() => undefined);
    let stopped = false;
    const tick = async () => {
      if (stopped || !reader.current) return;
      try {
        if (el.readyState >= 2) {
          const found = await reader.current.read(el, FRAME_WIDTH);
          if (stopped) return;
          if (found !== null) {
            stopCamera();
            take(found);
            return;
          }
        }
      } catch {
        /* the next frame */
      }
      setTimeout(() => void tick(), 250);
    };
    void tick();
    return () => {
      stopped = true;
    };
  }, [scanning]);

  async function fromPhoto(file: File | undefined) {
    if (!file) return;
    setError(null);
    setNote(null);
    try {
      const read = await qrReader();
      const bitmap = await createImageBitmap(file);
      const found = await read.read(bitmap, PHOTO_WIDTH);
      bitmap.close();
      if (found !== null) take(found);
      else setNote(t("inviteNotFoundInPhoto"));
    } catch {
      setNote(t("inviteNotFoundInPhoto"));
    }
  }

  function submit(e: SubmitEvent) {
    e.preventDefault();
    setError(null);
    take(text);
  }

  return (
    <form class="card" onSubmit={submit} aria-labelledby="invite-title">
      <h2 id="invite-title">{t("inviteTitle")}</h2>
      <p class="lead">{t("inviteLead")}</p>
      {canScan ? (
        <div class="scan">
          {scanning ? (
            <>
              <video id="invite-scanner" ref={video} class="scanner" muted playsInline aria-label={t("inviteScanning")} />
              <p class="muted" role="status">{t("inviteScanning")}</p>
              <button type="button" class="secondary" onClick={stopCamera}>
                {t("inviteScanStop")}
              </button>
            </>
          ) : (
            <button id="invite-scan" type="button" class="secondary" onClick={() => void startCamera()}>
              {t("inviteScan")}
            </button>
          )}
          <input
            id="invite-photo"
            class="visually-hidden"
            type="file"
            accept="image/*"
            capture="environment"
            onChange={(e) => void fromPhoto(e.currentTarget.files?.[0])}
          />
          <label for="invite-photo" class="secondary file-button">
            {t("invitePhoto")}
          </label>
        </div>
      ) : (
        <p id="invite-no-scanner" class="muted note">{t("inviteNoScanner")}</p>
      )}
      {note && <p class="note" role="status">{note}</p>}
      <label for="invite-text">{t("invitePasteLabel")}</label>
      <textarea
        id="invite-text"
        rows={4}
        spellcheck={false}
        autocomplete="off"
        autocapitalize="off"
        placeholder={t("invitePastePlaceholder")}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      {error && <Problem code={error} />}
      <button id="invite-continue" type="submit" class="primary" disabled={!text.trim()}>
        {t("inviteContinue")}
      </button>
    </form>
  );
}

/** A new account from the invite (signed out). */
function CreateAccount({ invite, onBack }: { invite: InviteQr; onBack: () => void }) {
  const { t, signIn, locale } = useApp();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: SubmitEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out = await acceptInvite(invite, {
        email: email.trim(),
        password,
        displayName: name.trim(),
        locale,
        deviceName: deviceName(),
      });
      setPassword("");
      savePending({ inviterUserId: invite.inviterUserId, inviterMasterKey: invite.inviterMasterKey, caseId: null });
      history.replaceState(null, "", "/app/invite"); // the code is spent: out of the address
      await signIn(
        {
          token: out.token,
          userId: out.user.id,
          matrixUserId: out.user.matrixUserId,
          deviceId: out.deviceId,
          displayName: out.user.displayName,
          role: out.user.role,
          locale: isLocale(out.user.locale) ? out.user.locale : locale,
        },
        { name: "invite" },
      );
    } catch (x) {
      setError(codeOf(x));
      setBusy(false);
    }
  }

  return (
    <form class="card" onSubmit={submit} aria-labelledby="account-title">
      <h2 id="account-title">{t("inviteAccountTitle")}</h2>
      <p class="lead">{t("inviteAccountLead")}</p>
      <label for="invite-name">{t("inviteName")}</label>
      <input id="invite-name" autocomplete="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="invite-email">{t("email")}</label>
      <input id="invite-email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      <label for="invite-password">{t("password")}</label>
      <input
        id="invite-password"
        type="password"
        autocomplete="new-password"
        required
        minLength={10}
        aria-describedby="invite-password-hint"
        value={password}
        onInput={(e) => setPassword(e.currentTarget.value)}
      />
      <p id="invite-password-hint" class="hint">{t("invitePasswordHint")}</p>
      {error && <Problem code={error} />}
      <button id="invite-create" type="submit" class="primary" disabled={busy}>
        {busy ? t("inviteCreating") : t("inviteCreate")}
      </button>
      <button type="button" class="link" onClick={onBack}>
        {t("inviteOtherCode")}
      </button>
    </form>
  );
}

/** The signed-in user joins another case with the invite. */
function Join({ invite, onBack, onJoined }: { invite: InviteQr; onBack: () => void; onJoined: (p: PendingVerification) => void }) {
  const { t, session } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function join() {
    if (!session) return;
    setBusy(true);
    setError(null);
    try {
      const out = await redeemInvite(session.token, invite);
      const pending = { inviterUserId: invite.inviterUserId, inviterMasterKey: invite.inviterMasterKey, caseId: out.caseId };
      savePending(pending);
      history.replaceState(null, "", "/app/invite");
      onJoined(pending);
    } catch (x) {
      setError(codeOf(x));
      setBusy(false);
    }
  }

  return (
    <div class="card">
      <h2>{t("inviteTitle")}</h2>
      <p class="lead">{t("inviteJoinLead")}</p>
      {error && <Problem code={error} />}
      <button id="invite-join" type="button" class="primary" disabled={busy} onClick={() => void join()}>
        {t("inviteJoin")}
      </button>
      <button type="button" class="link" onClick={onBack}>
        {t("inviteOtherCode")}
      </button>
    </div>
  );
}

/** The inviter's name and a case they share with us (the accept answer names no case). */
async function inviterIn(session: Session, pending: PendingVerification): Promise<{ name: string; caseId: string | null }> {
  const ids = pending.caseId ? [pending.caseId] : (await listCases(session.token)).filter((c) => c.closedAt === null).map((c) => c.id);
  const server = serverName(session);
  for (const caseId of ids) {
    const people = await members(session.token, caseId);
    const inviter = people.find((m) => `@${m.userId}:${server}` === pending.inviterUserId);
    if (inviter) return { name: inviter.displayName, caseId };
  }
  return { name: "", caseId: ids[0] ?? null };
}

/** After joining: the device verifies the inviter. */
function Verify({ pending }: { pending: PendingVerification }) {
  const { t, session, crypto } = useApp();
  const [state, setState] = useState<"verifying" | "verified" | "failed">("verifying");
  const [error, setError] = useState<string | null>(null);
  const [who, setWho] = useState<{ name: string; caseId: string | null }>({ name: "", caseId: pending.caseId });

  useEffect(() => {
    if (!session) return;
    let live = true;
    void (async () => {
      try {
        await crypto.call<"verifyInviter">({ op: "verifyInviter", inviter: pending.inviterUserId, masterKey: pending.inviterMasterKey });
        clearPending();
        const found = await inviterIn(session, pending).catch(() => ({ name: "", caseId: pending.caseId }));
        if (!live) return;
        setWho(found);
        setState("verified");
      } catch (x) {
        if (!live) return;
        setError(codeOf(x));
        setState("failed");
        if (codeOf(x) === "master_key_mismatch") clearPending(); // never signed; do not retry silently
      }
    })();
    return () => {
      live = false;
    };
  }, [session?.token]);

  function open() {
    if (who.caseId) navigate({ name: "thread", caseId: who.caseId, kind: "family" });
    else navigate({ name: "home" });
  }

  return (
    <div class="card" aria-live="polite">
      {state === "verifying" && <p id="invite-verifying" class="muted">{t("inviteVerifying")}</p>}
      {state === "verified" && (
        <>
          <p id="invite-verified" class="verified-big" role="status">
            <span aria-hidden="true">✓</span> {t("inviteVerified", { name: who.name || "?" })}
          </p>
          <p class="lead">{t("inviteVerifiedLead", { name: who.name || "?" })}</p>
          <button id="invite-open" type="button" class="primary" onClick={open}>
            {t("inviteOpenThread")}
          </button>
        </>
      )}
      {state === "failed" && error && (
        <>
          <Problem code={error} />
          <button type="button" class="secondary" onClick={open}>
            {t("inviteOpenThread")}
          </button>
        </>
      )}
    </div>
  );
}

export function Invite() {
  const { t, session } = useApp();
  const [invite, setInvite] = useState<InviteQr | null>(null);
  const [pending, setPending] = useState<PendingVerification | null>(() => (session ? loadPending() : null));

  let body;
  if (session && pending) body = <Verify pending={pending} />;
  else if (!invite) body = <ReadQr onRead={setInvite} />;
  else if (session) body = <Join invite={invite} onBack={() => setInvite(null)} onJoined={setPending} />;
  else body = <CreateAccount invite={invite} onBack={() => setInvite(null)} />;

  return (
    <main class="screen invite">
      {session ? (
        <TopBar title={t("inviteTitle")} />
      ) : (
        <header class="bar">
          <h1 class="brand">{t("appName")}</h1>
          <LanguageSwitch />
        </header>
      )}
      {body}
    </main>
  );
}
