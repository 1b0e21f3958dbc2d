import { render } from "preact";

import { App } from "./app";
import "./styles.css";

function supported(): boolean {
  return typeof Worker !== "undefined" && typeof indexedDB !== "undefined" && typeof WebAssembly !== "undefined" && !!crypto.subtle;
}

const root = document.getElementById("root")!;
if (!supported()) {
  root.textContent = "Kaari: this browser cannot run the app (Web Workers, IndexedDB, WebAssembly).";
} else {
  render(<App />, root);
  // keep the crypto store and the vault key through storage pressure (browsers may grant
  // it only to installed or engaged apps; refused is not an error)
  void navigator.storage?.persist?.().catch(() => false);
  if ("serviceWorker" in navigator) {
    void navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => undefined);
  }
}
