import { useEffect, useState } from "preact/hooks";

import { cancellation as getCancellation } from "../appointments";
import { useApp } from "../context";

/** What a cancelled session costs the child's therapy period: a late cancellation the
 * organisation's policy counts for the period's payer uses a session of it
 * (``countedCaseIds`` of GET /cancellations/{id}); read once per cancellation. */
export function CancellationCost({ cancellationId, caseId, token }: { cancellationId: string; caseId: string; token: string }) {
  const { t } = useApp();
  const [counted, setCounted] = useState<boolean | null>(null);
  useEffect(() => {
    let stop = false;
    getCancellation(token, cancellationId).then(
      (c) => {
        if (!stop) setCounted((c.countedCaseIds ?? []).includes(caseId));
      },
      () => undefined,
    );
    return () => {
      stop = true;
    };
  }, [cancellationId, caseId, token]);
  if (counted === null) return null;
  return (
    <p class={`ss-cost ${counted ? "counted" : "free"}`} data-counted={counted ? "yes" : "no"}>
      {t(counted ? "ss.costs" : "ss.free")}
    </p>
  );
}
