// One video session in the browser (docs/signaling.md, "Rooms and the call relay"): the
// device joins the appointment's room over its WebSocket, waits until a therapist admits
// it, and holds one RTCPeerConnection per admitted peer (a mesh). Of two peers the one
// admitted later (larger order) offers; the other answers and never offers. Every offer
// and answer is authenticated by the Matrix device in the crypto worker (crypto/call.ts)
// before it is relayed, and checked there before it is applied: an SDP whose DTLS
// fingerprints are not its signer's is refused (hang-up "call_auth_invalid") and never
// applied. Candidates travel inside the SDP (gathering completes before it is sent, as
// the aiortc reference client does), so no trickle "candidate" signals are sent.
//
// A group session: a family does not know who the other families' seats are (their
// userId is a pseudonym), so it cannot authenticate to them nor check them through the
// mailbox. This device uses one DTLS certificate for all its connections in the room; a
// therapist, who authenticated each family device's own SDP, vouches for its certificate
// to the other families' devices (org.kaari.call.vouch, crypto/call.ts); an SDP from
// another family is applied only when its fingerprints are exactly those a therapist of
// the room vouched for. Nothing is sent to that family's device: the therapist vouches.

import { request } from "../api";
import type { CryptoClient } from "../crypto/client";
import { CryptoError } from "../crypto/client";
import type { Session } from "../session";
import { serverName } from "../session";
import { NO_STATS, openCamera, openMedia, readStats, type PeerStats } from "./media";
import { CallSocket, type Frame } from "./socket";

export const CALL_AUTH_INVALID = "call_auth_invalid";
const AUTH_WAIT_MS = 8000;
const GATHER_MS = 6000;
/** a callee that has no connection with a present peer this long asks it to offer */
const ASK_AFTER_MS = 4000;
export const RELAY_ONLY_KEY = "kaari.call.relayOnly";
/** room_join's refusals (docs/signaling.md, "Who may enter, and when") */
const JOIN_REFUSALS = new Set([
  "room_not_found",
  "room_not_allowed",
  "room_not_video",
  "room_cancelled",
  "room_not_open_yet",
  "room_closed",
  "room_full",
  "room_already_joined",
  "room_seats_kept",
]);

export interface Participant {
  userId: string;
  deviceId: string;
  role: "therapist" | "guardian" | "child";
  caseId: string | null;
  status: "waiting" | "admitted";
  order: number | null;
  connected: boolean;
}

export interface RemoteState {
  mic: boolean;
  camera: boolean;
}

export interface PeerView {
  deviceId: string;
  userId: string;
  state: RTCPeerConnectionState | "refused";
  stream: MediaStream;
  remote: RemoteState;
  stats: PeerStats;
  /** this device refused the peer's SDP (the CallAuthError code) */
  refused: string | null;
  /** the peer refused ours */
  refusedByPeer: boolean;
  /** ICE restarts on this connection (new remote credentials on the same connection) */
  iceRestarts: number;
}

export interface CallView {
  phase: "starting" | "joining" | "waiting" | "in" | "left" | "failed";
  error: string | null;
  participants: Participant[];
  me: Participant | null;
  autoAdmit: boolean;
  peers: PeerView[];
  local: MediaStream | null;
  mic: boolean;
  camera: boolean;
  audioOnly: boolean;
  relayOnly: boolean;
  /** GET /rtc/ice-servers had a TURN relay */
  relayAvailable: boolean;
}

interface Peer extends PeerView {
  offerer: boolean;
  pc: RTCPeerConnection;
  remoteFingerprints: string[];
}

interface IceAnswer {
  iceServers: RTCIceServer[];
  relay: boolean;
}

function fingerprints(sdp: string): string[] {
  return [...sdp.matchAll(/^a=fingerprint:(\S+ \S+)\s*$/gm)].map((m) => m[1] ?? "");
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The SDP's origin session id (o=): one per connection, kept by renegotiations and ICE
 * restarts. This page's connections share one certificate, so a connection built anew
 * is told apart by its session, not its fingerprints. */
function origin(sdp: string | undefined): string {
  return /^o=\S+ (\S+) /m.exec(sdp ?? "")?.[1] ?? "";
}

/** The remote side made a new connection (new certificate, or a new session). */
function renewed(peer: Peer, sdp: string): boolean {
  if (peer.remoteFingerprints.length === 0) return false;
  return !same(peer.remoteFingerprints, fingerprints(sdp)) || origin(peer.pc.remoteDescription?.sdp) !== origin(sdp);
}

function ufrag(sdp: string | undefined): string {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp ?? "")?.[1] ?? "";
}

/** Set the local description and wait until its candidates are gathered (bounded): a
 * new ICE generation (a first description or an ICE restart) ends with a null candidate;
 * a description with the same credentials gathers nothing new. */
async function describe(pc: RTCPeerConnection, make: () => Promise<RTCSessionDescriptionInit>): Promise<string> {
  const before = ufrag(pc.localDescription?.sdp);
  let finish = () => undefined as void;
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, GATHER_MS);
    finish = () => {
      clearTimeout(timer);
      resolve();
    };
    pc.addEventListener("icecandidate", (e) => {
      if (e.candidate === null) finish();
    });
  });
  await pc.setLocalDescription(await make());
  const same = before !== "" && ufrag(pc.localDescription?.sdp) === before;
  if (same && pc.iceGatheringState === "complete") finish();
  await ended;
  return pc.localDescription?.sdp ?? "";
}

export class CallController {
  private readonly socket: CallSocket;
  private readonly peers = new Map<string, Peer>();
  private chain: Promise<void> = Promise.resolve();
  private ice: IceAnswer = { iceServers: [], relay: false };
  private view: CallView;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private asked = new Map<string, ReturnType<typeof setTimeout>>();
  private listeners = new Set<(v: CallView) => void>();
  /** one certificate for every connection of this page (a group's vouches name it) */
  private certificate: RTCCertificate | null = null;
  /** a therapist: the authenticated fingerprints of each family device, and the vouches sent */
  private known = new Map<string, string[]>();
  private vouched = new Map<string, string>();

  constructor(
    private readonly roomId: string,
    private readonly session: Session,
    private readonly crypto: CryptoClient,
  ) {
    this.view = {
      phase: "starting",
      error: null,
      participants: [],
      me: null,
      autoAdmit: false,
      peers: [],
      local: null,
      mic: true,
      camera: true,
      audioOnly: false,
      relayOnly: localStorage.getItem(RELAY_ONLY_KEY) === "1",
      relayAvailable: false,
    };
    this.socket = new CallSocket(
      session.token,
      (f) => this.onFrame(f),
      () => this.join(),
      () => undefined,
    );
  }

  subscribe(listen: (v: CallView) => void): () => void {
    this.listeners.add(listen);
    listen(this.view);
    return () => this.listeners.delete(listen);
  }

  private update(patch: Partial<CallView> = {}): void {
    this.view = { ...this.view, ...patch, peers: [...this.peers.values()].map((p) => ({ ...p })) };
    for (const listen of this.listeners) listen(this.view);
  }

  async start(): Promise<void> {
    try {
      // a peer accepts this device's offers and answers only when it is cross-signed
      const { crossSigned } = await this.crypto.call<"callPrepare">({ op: "callPrepare" });
      if (!crossSigned) {
        this.update({ phase: "failed", error: "call_device_unsigned" });
        return;
      }
      await this.refreshIce();
      this.certificate = await RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams);
    } catch (e) {
      this.update({ phase: "failed", error: e instanceof CryptoError ? e.code : "call_setup_failed" });
      return;
    }
    const local = await openMedia(true);
    this.update({ local, phase: "joining", mic: local.getAudioTracks().length > 0, camera: local.getVideoTracks().length > 0 });
    this.socket.start();
    this.statsTimer = setInterval(() => void this.pollStats(), 1000);
  }

  private async refreshIce(): Promise<void> {
    this.ice = await request<IceAnswer>("GET", "/rtc/ice-servers", this.session.token);
    this.update({ relayAvailable: this.ice.relay });
  }

  private config(): RTCConfiguration {
    const relay = this.view.relayOnly && this.ice.relay;
    return {
      iceServers: this.ice.iceServers,
      iceTransportPolicy: relay ? "relay" : "all",
      ...(this.certificate ? { certificates: [this.certificate] } : {}),
    };
  }

  /** The relay-only setting (kept on this device): each connection is built again with
   * it (a new ICE session; the offerer makes it, the callee asks for it). */
  setRelayOnly(on: boolean): void {
    localStorage.setItem(RELAY_ONLY_KEY, on ? "1" : "0");
    this.update({ relayOnly: on });
    for (const peer of [...this.peers.values()]) {
      if (peer.state !== "refused") this.serial(() => this.rebuild(peer));
    }
  }

  private async rebuild(peer: Peer): Promise<void> {
    if (this.peers.get(peer.deviceId) !== peer) return;
    if (peer.offerer) await this.offer(this.newPeer(peer, true));
    else this.signal(peer.deviceId, "restart", { fresh: true });
  }

  private join(): void {
    this.socket.send({ type: "room_join", roomId: this.roomId });
  }

  // -- frames --------------------------------------------------------------------------

  private onFrame(f: Frame): void {
    if (f["roomId"] !== undefined && f["roomId"] !== this.roomId) return;
    if (f.type === "room_state") this.serial(() => this.onState(f));
    else if (f.type === "signal") this.serial(() => this.onSignal(f));
    else if (f.type === "error") {
      const code = typeof f["code"] === "string" ? f["code"] : "unknown";
      // a refused room_join ends the visit; a refused signal (a peer away within its
      // grace period) is repaired by the next room_state
      if (this.view.phase === "joining" || JOIN_REFUSALS.has(code)) this.update({ phase: "failed", error: code });
    }
  }

  /** Frames are handled one at a time, in the order they came. */
  private serial(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => undefined);
  }

  private signal(to: string, kind: string, payload: Record<string, unknown>): void {
    this.socket.send({ type: "signal", roomId: this.roomId, to, kind, payload });
  }

  private async onState(f: Frame): Promise<void> {
    const participants = (f["participants"] as Participant[] | undefined) ?? [];
    const me = participants.find((p) => p.deviceId === this.session.deviceId) ?? null;
    const admitted = me?.status === "admitted";
    this.update({
      participants,
      me,
      autoAdmit: f["autoAdmit"] === true,
      phase: this.view.phase === "left" ? "left" : me ? (admitted ? "in" : "waiting") : this.view.phase,
    });
    if (!me || !admitted || me.order === null) return;
    if (me.role === "therapist") this.serial(() => this.vouchAll());
    const present = new Map(participants.filter((p) => p.deviceId !== me.deviceId && p.status === "admitted").map((p) => [p.deviceId, p]));
    for (const [id, peer] of this.peers) {
      if (!present.has(id)) this.closePeer(peer);
    }
    for (const p of present.values()) {
      if (!p.connected || this.peers.has(p.deviceId) || p.order === null) continue;
      if (me.order > p.order) await this.offer(this.newPeer(p, true));
      else this.askLater(p);
    }
    this.update();
  }

  /** The callee with no connection to a present peer (this page was reloaded, or the
   * peer's offer was lost) asks it for a fresh offer. */
  private askLater(p: Participant): void {
    if (this.asked.has(p.deviceId)) return;
    this.asked.set(
      p.deviceId,
      setTimeout(() => {
        this.asked.delete(p.deviceId);
        // after the signals already here (an offer being authenticated, or refused)
        this.serial(async () => {
          const still = this.view.participants.find((x) => x.deviceId === p.deviceId && x.status === "admitted" && x.connected);
          if (still && !this.peers.has(p.deviceId) && this.view.phase === "in") this.signal(p.deviceId, "restart", { fresh: true });
        });
      }, ASK_AFTER_MS),
    );
  }

  // -- peers ---------------------------------------------------------------------------

  private newPeer(p: { deviceId: string; userId: string }, offerer: boolean): Peer {
    const old = this.peers.get(p.deviceId);
    if (old) this.closePeer(old);
    const pc = new RTCPeerConnection(this.config());
    const peer: Peer = {
      deviceId: p.deviceId,
      userId: p.userId,
      offerer,
      pc,
      state: "new",
      stream: new MediaStream(),
      remote: { mic: true, camera: true },
      stats: NO_STATS,
      refused: null,
      refusedByPeer: false,
      iceRestarts: 0,
      remoteFingerprints: [],
    };
    pc.ontrack = (e) => {
      peer.stream.addTrack(e.track);
      this.update();
    };
    pc.onconnectionstatechange = () => {
      if (this.peers.get(peer.deviceId) !== peer) return;
      peer.state = pc.connectionState;
      if (pc.connectionState === "failed") this.serial(() => this.repair(peer));
      this.update();
    };
    if (offerer) this.addLocal(peer);
    this.peers.set(p.deviceId, peer);
    return peer;
  }

  private addLocal(peer: Peer): void {
    const local = this.view.local;
    const audio = local?.getAudioTracks()[0];
    const video = local?.getVideoTracks()[0];
    if (audio) peer.pc.addTrack(audio, local);
    else peer.pc.addTransceiver("audio", { direction: "recvonly" });
    if (video && !this.view.audioOnly) peer.pc.addTrack(video, local);
    else peer.pc.addTransceiver("video", { direction: "sendrecv" });
  }

  private closePeer(peer: Peer): void {
    peer.pc.close();
    for (const t of peer.stream.getTracks()) peer.stream.removeTrack(t);
    this.peers.delete(peer.deviceId);
  }

  private matrixUser(userId: string): string {
    return `@${userId}:${serverName(this.session)}`;
  }

  private async offer(peer: Peer, iceRestart = false): Promise<void> {
    const pc = peer.pc;
    if (iceRestart) {
      await this.refreshIce().catch(() => undefined); // TURN credentials expire
      pc.setConfiguration(this.config());
    }
    const sdp = await describe(pc, () => pc.createOffer(iceRestart ? { iceRestart: true } : {}));
    await this.authenticate(peer, "offer", sdp);
    this.signal(peer.deviceId, "offer", { type: "offer", sdp });
  }

  /** Another family's seat in a group session (a pseudonym here): a therapist vouches. */
  private otherFamily(deviceId: string): boolean {
    const p = this.view.participants.find((x) => x.deviceId === deviceId);
    return this.view.me?.role !== "therapist" && p !== undefined && p.role !== "therapist" && p.caseId === null;
  }

  private async authenticate(peer: Peer, kind: "offer" | "answer", sdp: string): Promise<void> {
    if (this.otherFamily(peer.deviceId)) return; // its certificate is vouched for by a therapist
    await this.crypto.call<"callSend">({
      op: "callSend",
      call: { peerUser: this.matrixUser(peer.userId), peerDevice: peer.deviceId, callId: this.roomId, kind, sdp },
    });
  }

  /** The SDP of an authenticated offer or answer, or null: refused, hung up, never applied. */
  private async verified(f: Frame, kind: "offer" | "answer"): Promise<string | null> {
    const from = String(f["from"]);
    const payload = (f["payload"] ?? {}) as { sdp?: unknown };
    let code = "missing_auth";
    if (typeof payload.sdp === "string") {
      try {
        const call = { peerUser: this.matrixUser(String(f["fromUser"])), peerDevice: from, callId: this.roomId, kind, sdp: payload.sdp };
        if (this.otherFamily(from)) {
          const vouchers = this.view.participants
            .filter((p) => p.role === "therapist" && p.status === "admitted")
            .map((p) => ({ user: this.matrixUser(p.userId), device: p.deviceId }));
          await this.crypto.call<"callCheckVouched">({ op: "callCheckVouched", call, vouchers, waitMs: AUTH_WAIT_MS });
        } else {
          await this.crypto.call<"callCheck">({ op: "callCheck", call, waitMs: AUTH_WAIT_MS });
          this.learn(from, payload.sdp);
        }
        return payload.sdp;
      } catch (e) {
        code = e instanceof CryptoError ? e.code : "crypto_failed";
      }
    }
    this.signal(from, "hangup", { reason: CALL_AUTH_INVALID, code });
    const peer = this.peers.get(from);
    if (peer) this.closePeer(peer);
    // shown until someone tries again: a refused peer is not called again by itself
    const shown = this.newPeer({ deviceId: from, userId: String(f["fromUser"]) }, false);
    shown.pc.close();
    shown.state = "refused";
    shown.refused = code;
    this.update();
    return null;
  }

  /** A therapist keeps a family device's authenticated fingerprints, to vouch for them. */
  private learn(deviceId: string, sdp: string): void {
    if (this.view.me?.role !== "therapist") return;
    const p = this.view.participants.find((x) => x.deviceId === deviceId);
    if (!p || p.role === "therapist" || p.caseId === null) return;
    this.known.set(deviceId, fingerprints(sdp));
    this.serial(() => this.vouchAll());
  }

  /** A therapist tells each admitted family device the certificates of the other
   * families' devices (once per certificate), so the families' connections authenticate. */
  private async vouchAll(): Promise<void> {
    const family = this.view.participants.filter((p) => p.status === "admitted" && p.role !== "therapist" && p.caseId !== null);
    for (const about of family) {
      const fps = this.known.get(about.deviceId);
      if (!fps) continue;
      for (const to of family) {
        if (to.caseId === about.caseId) continue; // one family's own seats authenticate directly
        const key = `${about.deviceId}>${to.deviceId}`;
        if (this.vouched.get(key) === fps.join(",")) continue;
        try {
          await this.crypto.call<"callVouch">({
            op: "callVouch",
            vouch: { peerUser: this.matrixUser(to.userId), peerDevice: to.deviceId, callId: this.roomId, deviceId: about.deviceId, fingerprints: fps },
          });
          this.vouched.set(key, fps.join(","));
        } catch {
          // that device's keys are not there yet: tried again at the next change
        }
      }
    }
  }

  private async onSignal(f: Frame): Promise<void> {
    const from = String(f["from"]);
    const kind = String(f["kind"]);
    const payload = (f["payload"] ?? {}) as Record<string, unknown>;
    let peer = this.peers.get(from);
    if (kind === "offer") {
      const sdp = await this.verified(f, "offer");
      if (sdp === null) return;
      const fps = fingerprints(sdp);
      // a new DTLS certificate or session (the peer's page reloaded, or it built a new connection):
      // a new connection here too; the same one: a renegotiation or ICE restart in place
      if (!peer || peer.offerer || peer.state === "refused" || renewed(peer, sdp)) {
        peer = this.newPeer({ deviceId: from, userId: String(f["fromUser"]) }, false);
      }
      const fresh = peer.remoteFingerprints.length === 0;
      if (!fresh) peer.pc.setConfiguration(this.config()); // an ICE restart: this side's policy too
      peer.remoteFingerprints = fps;
      const restarted = !fresh && ufrag(peer.pc.remoteDescription?.sdp) !== ufrag(sdp);
      await peer.pc.setRemoteDescription({ type: "offer", sdp });
      if (restarted) peer.iceRestarts += 1;
      if (fresh) this.addLocal(peer);
      const pc = peer.pc;
      const answer = await describe(pc, () => pc.createAnswer());
      await this.authenticate(peer, "answer", answer);
      this.signal(from, "answer", { type: "answer", sdp: answer });
      this.sendMute(from);
    } else if (kind === "answer") {
      if (!peer || !peer.offerer) return;
      const sdp = await this.verified(f, "answer");
      if (sdp === null) return;
      const fps = fingerprints(sdp);
      if (renewed(peer, sdp)) {
        await this.offer(this.newPeer(peer, true)); // the callee built a new connection
        return;
      }
      const restarted = peer.remoteFingerprints.length > 0 && ufrag(peer.pc.remoteDescription?.sdp) !== ufrag(sdp);
      peer.remoteFingerprints = fps;
      await peer.pc.setRemoteDescription({ type: "answer", sdp });
      if (restarted) peer.iceRestarts += 1;
      this.sendMute(from);
    } else if (kind === "restart") {
      const p = this.view.participants.find((x) => x.deviceId === from);
      if (!p || !peer?.offerer) {
        // the callee asks and this device is the offerer without a connection (refused)
        if (p && this.view.me?.order != null && p.order != null && this.view.me.order > p.order) await this.offer(this.newPeer(p, true));
        return;
      }
      if (payload["fresh"] === true || peer.pc.connectionState === "failed") await this.offer(this.newPeer(p, true));
      else await this.offer(peer, true);
    } else if (kind === "hangup") {
      if (!peer) return;
      if (payload["reason"] === CALL_AUTH_INVALID) {
        peer.pc.close();
        peer.state = "refused";
        peer.refusedByPeer = true;
      } else this.closePeer(peer);
    } else if (kind === "mute") {
      if (!peer) return;
      peer.remote = { mic: payload["mic"] !== false, camera: payload["camera"] !== false };
      if (typeof payload["audioOnly"] === "boolean" && payload["audioOnly"] !== this.view.audioOnly) {
        await this.applyAudioOnly(payload["audioOnly"]); // the mode is the call's, set by either side
      }
    }
    this.update();
  }

  /** Repair a failed connection: the offerer restarts ICE, the callee asks it to. */
  private async repair(peer: Peer): Promise<void> {
    if (this.peers.get(peer.deviceId) !== peer || peer.state === "refused") return;
    if (peer.offerer) await this.offer(peer, true);
    else this.signal(peer.deviceId, "restart", {});
  }

  /** "Reconnect" (a frozen picture, a changed network): an ICE restart on the same
   * connection with fresh TURN credentials; the callee asks the offerer for it. */
  reconnect(deviceId: string): void {
    const peer = this.peers.get(deviceId);
    if (peer) this.serial(() => this.repair(peer));
  }

  /** "Try again" after a refusal or a failed connection. */
  retry(deviceId: string): void {
    this.serial(async () => {
      const peer = this.peers.get(deviceId);
      const p = this.view.participants.find((x) => x.deviceId === deviceId);
      if (!p) return;
      if (peer?.offerer && peer.state !== "refused") {
        await this.offer(peer, true);
        return;
      }
      const me = this.view.me;
      if (me?.order != null && p.order != null && me.order > p.order) await this.offer(this.newPeer(p, true));
      else {
        if (peer) this.closePeer(peer);
        this.signal(deviceId, "restart", { fresh: true });
      }
      this.update();
    });
  }

  // -- the room ------------------------------------------------------------------------

  admit(deviceIds?: string[]): void {
    this.socket.send({ type: "room_admit", roomId: this.roomId, ...(deviceIds ? { deviceIds } : {}) });
  }

  // -- camera, microphone, audio only --------------------------------------------------

  private sendMute(to?: string): void {
    const payload = { mic: this.view.mic, camera: this.view.camera && !this.view.audioOnly, audioOnly: this.view.audioOnly };
    for (const peer of this.peers.values()) {
      if (peer.state === "refused" || (to && peer.deviceId !== to)) continue;
      this.signal(peer.deviceId, "mute", payload);
    }
  }

  toggleMic(): void {
    const mic = !this.view.mic;
    for (const t of this.view.local?.getAudioTracks() ?? []) t.enabled = mic;
    this.update({ mic });
    this.sendMute();
  }

  toggleCamera(): void {
    this.serial(async () => {
      await this.setVideo(!this.view.camera, this.view.audioOnly);
      this.sendMute();
    });
  }

  setAudioOnly(on: boolean): void {
    this.serial(async () => {
      await this.applyAudioOnly(on);
      this.sendMute();
    });
  }

  private async applyAudioOnly(on: boolean): Promise<void> {
    await this.setVideo(this.view.camera, on);
  }

  /** The camera is on only when it is switched on and the call is not audio-only; when it
   * is off its track is stopped (the camera light goes out) and nothing is sent. */
  private async setVideo(camera: boolean, audioOnly: boolean): Promise<void> {
    const local = this.view.local ?? new MediaStream();
    const sending = camera && !audioOnly;
    let track = local.getVideoTracks()[0] ?? null;
    if (!sending && track) {
      track.stop();
      local.removeTrack(track);
      track = null;
    } else if (sending && !track) {
      track = await openCamera();
      if (track) local.addTrack(track);
    }
    for (const peer of this.peers.values()) {
      if (peer.state === "refused") continue;
      for (const t of peer.pc.getTransceivers()) {
        if (t.receiver.track.kind === "video" && t.currentDirection !== "stopped") await t.sender.replaceTrack(track);
      }
    }
    this.update({ local, camera: camera && (sending ? track !== null : true), audioOnly });
  }

  private async pollStats(): Promise<void> {
    let changed = false;
    for (const peer of this.peers.values()) {
      if (peer.state === "refused" || peer.pc.connectionState === "closed") continue;
      try {
        peer.stats = await readStats(peer.pc);
        changed = true;
      } catch {
        // a connection closing under us
      }
    }
    if (changed) this.update();
  }

  hangUp(): void {
    for (const peer of [...this.peers.values()]) {
      if (peer.state !== "refused") this.signal(peer.deviceId, "hangup", { reason: "hangup" });
      this.closePeer(peer);
    }
    this.socket.send({ type: "room_leave", roomId: this.roomId });
    this.stop();
    this.update({ phase: "left" });
  }

  /** Leave the page: the seat waits out its grace period (a reload resumes it). */
  stop(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const timer of this.asked.values()) clearTimeout(timer);
    for (const peer of [...this.peers.values()]) this.closePeer(peer);
    for (const t of this.view.local?.getTracks() ?? []) t.stop();
    this.socket.close();
  }
}

