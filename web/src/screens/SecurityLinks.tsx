import { useEffect, useState } from "preact/hooks";

import { useApp } from "../context";
import { href, navigate, type Route } from "../router";

function go(route: Route) {
  return (e: MouseEvent) => {
    e.preventDefault();
    navigate(route);
  };
}

/** Above a parent's screens: "Restore messages with your recovery key" on a device that
 * does not hold the key of the user's current backup (a new phone or browser). */
export function RestoreOffer({ route }: { route: Route }) {
  const { t, crypto } = useApp();
  const [offer, setOffer] = useState(false);
  useEffect(() => {
    crypto.call<"backupStatus">({ op: "backupStatus" }).then(
      (s) => setOffer(s.serverVersion !== null && !s.active),
      () => setOffer(false),
    );
  }, [route.name]);
  if (!offer || route.name === "recovery") return null;
  return (
    <p class="offer" role="status">
      <a id="restore-offer" href={href({ name: "recovery" })} onClick={go({ name: "recovery" })}>
        {t("restoreOffer")}
      </a>
    </p>
  );
}

/** Below a parent's screens: the devices and the recovery key. */
export function SecurityLinks() {
  const { t } = useApp();
  return (
    <nav class="nav-links security-links" aria-label={`${t("devicesLink")}, ${t("recoveryLink")}`}>
      <a id="devices-link" href={href({ name: "devices" })} onClick={go({ name: "devices" })}>
        {t("devicesLink")}
      </a>
      <a id="recovery-link" href={href({ name: "recovery" })} onClick={go({ name: "recovery" })}>
        {t("recoveryLink")}
      </a>
    </nav>
  );
}
