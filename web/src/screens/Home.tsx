import { useEffect, useState } from "preact/hooks";

import { ApiError, cases as listCases, type CaseOut } from "../api";
import { useApp } from "../context";
import { href, navigate } from "../router";
import { TopBar } from "./TopBar";

/** The cases of a guardian (siblings: one each); with one case, straight to its thread. */
export function Home() {
  const { t, err, session } = useApp();
  const [cases, setCases] = useState<CaseOut[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!session) return;
    listCases(session.token).then(
      (all) => {
        const open = all.filter((c) => c.closedAt === null);
        if (open.length === 1 && open[0]) {
          navigate({ name: "thread", caseId: open[0].id, kind: "family" }, true);
        } else setCases(open);
      },
      (x: unknown) => setError(x instanceof ApiError ? x.code : "unknown"),
    );
  }, [session?.token]);

  return (
    <main class="screen">
      <TopBar title={t("casesTitle")} />
      {error && <p class="error" role="alert">{err(error)}</p>}
      {!cases && !error && <p class="muted">{t("loading")}</p>}
      {cases && cases.length === 0 && <p class="muted">{t("noCases")}</p>}
      {cases && cases.length > 0 && (
        <ul class="cases">
          {cases.map((c) => (
            <li key={c.id}>
              <a
                href={href({ name: "thread", caseId: c.id, kind: "family" })}
                onClick={(e) => {
                  e.preventDefault();
                  navigate({ name: "thread", caseId: c.id, kind: "family" });
                }}
              >
                {t("familyThreadOf", { child: c.childName ?? "" })}
              </a>
              <nav class="nav-links" aria-label={c.childName ?? ""}>
                <a
                  class="child-thread-link"
                  href={href({ name: "thread", caseId: c.id, kind: "child" })}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate({ name: "thread", caseId: c.id, kind: "child" });
                  }}
                >
                  {t("childThreadLink", { child: c.childName ?? "" })}
                </a>
                <a
                  class="documents-link"
                  href={href({ name: "documents", caseId: c.id })}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate({ name: "documents", caseId: c.id });
                  }}
                >
                  {t("documentsLink")}
                </a>
              </nav>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
