// Screens' hooks on the tab's live hub (live.ts): subscribe to events while mounted,
// know whether the socket is open, and ask the server again slowly only while it is not.

import { useEffect, useRef, useState } from "preact/hooks";

import { useApp } from "./context";
import { FALLBACK_POLL_MS, type LiveEvents, type LiveName, type LiveState } from "./live";

export type LiveHandlers = { [N in LiveName]?: (ids: LiveEvents[N]) => void } & {
  /** events may have been missed (the socket reopened): read the state again */
  resync?: () => void;
};

/** Subscribe to the handlers' events while the screen is mounted; the newest handlers
 * run (they may close over the screen's state). */
export function useLive(handlers: LiveHandlers): void {
  const { live } = useApp();
  const latest = useRef(handlers);
  latest.current = handlers;
  const names = Object.keys(handlers).filter((k) => k !== "resync").sort().join(",");
  useEffect(() => {
    const offs = names
      .split(",")
      .filter((n): n is LiveName => n.length > 0)
      .map((n) => live.on(n, (ids) => (latest.current[n] as ((x: typeof ids) => void) | undefined)?.(ids)));
    offs.push(live.onResync(() => latest.current.resync?.()));
    return () => offs.forEach((off) => off());
  }, [live, names]);
}

export function useLiveState(): LiveState {
  const { live } = useApp();
  const [state, setState] = useState<LiveState>(live.state);
  useEffect(() => {
    setState(live.state);
    return live.onState(setState);
  }, [live]);
  return state;
}

/** `fn` every `ms` while the socket is not open (and `active`): the slow fallback. */
export function useFallbackPoll(fn: () => void, active = true, ms = FALLBACK_POLL_MS): void {
  const state = useLiveState();
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (state === "open" || !active) return;
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [state, active, ms]);
}

/** `fn` after any of `names` (for whose ids `accept` holds), once per burst of events
 * (`ms` apart), after a resync, and as the slow fallback while the socket is down: for a
 * screen that simply reads its state again. */
export function useLiveReload<N extends LiveName>(
  names: readonly N[],
  fn: () => void,
  accept: (ids: LiveEvents[N]) => boolean = () => true,
  ms = 300,
): void {
  const latest = useRef({ fn, accept });
  latest.current = { fn, accept };
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const soon = (): void => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current.fn(), ms);
  };
  const handlers: LiveHandlers = { resync: soon };
  for (const n of names) (handlers as Record<string, (ids: LiveEvents[N]) => void>)[n] = (ids) => latest.current.accept(ids) && soon();
  useLive(handlers);
  useFallbackPoll(fn);
}
