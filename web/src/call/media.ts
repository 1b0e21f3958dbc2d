// The device's camera and microphone for a call, and what getStats says of a peer
// connection (frames decoded, audio received, the candidate pair in use).

export async function openMedia(video: boolean): Promise<MediaStream> {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { width: 640, height: 360 } : false });
  } catch {
    // a camera refused or missing: audio alone, then nothing (the call still runs)
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return new MediaStream();
    }
  }
}

export async function openCamera(): Promise<MediaStreamTrack | null> {
  try {
    const s = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
    return s.getVideoTracks()[0] ?? null;
  } catch {
    return null;
  }
}

export interface PeerStats {
  framesDecoded: number;
  audioPackets: number;
  audioEnergy: number;
  /** the selected pair: "relay" when either side's candidate is a relay one */
  path: "relay" | "direct" | "";
  /** the selected pair belongs to the current ICE credentials (after a restart: the new ones) */
  current: boolean;
}

export const NO_STATS: PeerStats = { framesDecoded: 0, audioPackets: 0, audioEnergy: 0, path: "", current: false };

export async function readStats(pc: RTCPeerConnection): Promise<PeerStats> {
  const report = await pc.getStats();
  const out: PeerStats = { ...NO_STATS };
  const byId = new Map<string, Record<string, unknown>>();
  report.forEach((s: Record<string, unknown>) => byId.set(String(s["id"]), s));
  let pairId = "";
  for (const s of byId.values()) {
    if (s["type"] === "inbound-rtp" && s["kind"] === "video") out.framesDecoded += Number(s["framesDecoded"] ?? 0);
    if (s["type"] === "inbound-rtp" && s["kind"] === "audio") {
      out.audioPackets += Number(s["packetsReceived"] ?? 0);
      out.audioEnergy += Number(s["totalAudioEnergy"] ?? 0);
    }
    if (s["type"] === "transport" && typeof s["selectedCandidatePairId"] === "string") pairId = s["selectedCandidatePairId"];
  }
  if (!pairId) {
    for (const s of byId.values()) if (s["type"] === "candidate-pair" && s["nominated"] && s["state"] === "succeeded") pairId = String(s["id"]);
  }
  const pair = byId.get(pairId);
  if (pair) {
    const local = byId.get(String(pair["localCandidateId"]));
    const remote = byId.get(String(pair["remoteCandidateId"]));
    const relay = local?.["candidateType"] === "relay" || remote?.["candidateType"] === "relay";
    out.path = relay ? "relay" : "direct";
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(pc.localDescription?.sdp ?? "")?.[1];
    out.current = ufrag !== undefined && local?.["usernameFragment"] === ufrag;
  }
  return out;
}
