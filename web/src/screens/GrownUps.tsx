import { useEffect, useRef, useState } from "preact/hooks";

import { useApp } from "../context";
import "../family.css";

export const HOLD_MS = 3000;

/** The child's tablet has no plain "Sign out": a child could sign the tablet out (and a
 * new pairing code would be needed). "For grown-ups" opens a dialog whose sign-out
 * button must be held for 3 s (pointer, or Space/Enter held on a keyboard); letting go
 * earlier does nothing. */
export function GrownUps() {
  const { t, signOut } = useApp();
  const [open, setOpen] = useState(false);
  const [holding, setHolding] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const opener = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);

  function start(): void {
    if (timer.current !== undefined) return;
    setHolding(true);
    timer.current = setTimeout(() => {
      timer.current = undefined;
      void signOut();
    }, HOLD_MS);
  }

  function stop(): void {
    clearTimeout(timer.current);
    timer.current = undefined;
    setHolding(false);
  }

  function close(): void {
    stop();
    setOpen(false);
    opener.current?.focus();
  }

  useEffect(() => {
    if (!open) return;
    dialog.current?.querySelector<HTMLElement>("button")?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") close();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [open]);

  useEffect(() => () => clearTimeout(timer.current), []);

  return (
    <>
      <button id="grownups" ref={opener} type="button" class="link" aria-haspopup="dialog" onClick={() => setOpen(true)}>
        {t("grownUps")}
      </button>
      {open && (
        <div class="gate-backdrop">
          <div class="gate" role="dialog" aria-modal="true" aria-labelledby="gate-title" aria-describedby="gate-lead" ref={dialog} id="grownups-dialog">
            <h2 id="gate-title">{t("grownUpsTitle")}</h2>
            <p id="gate-lead">{t("grownUpsLead")}</p>
            <button
              id="signout-hold"
              type="button"
              class={`primary hold${holding ? " holding" : ""}`}
              onPointerDown={(e) => {
                e.preventDefault();
                start();
              }}
              onPointerUp={stop}
              onPointerLeave={stop}
              onPointerCancel={stop}
              onContextMenu={(e) => e.preventDefault()}
              onKeyDown={(e) => {
                if (e.key === " " || e.key === "Enter") {
                  e.preventDefault();
                  start();
                }
              }}
              onKeyUp={(e) => {
                if (e.key === " " || e.key === "Enter") stop();
              }}
              onBlur={stop}
            >
              <span class="fill" aria-hidden="true" />
              <span>{holding ? t("holding") : t("holdToSignOut")}</span>
            </button>
            <button id="grownups-close" type="button" class="secondary" onClick={close}>
              {t("close")}
            </button>
          </div>
        </div>
      )}
    </>
  );
}
