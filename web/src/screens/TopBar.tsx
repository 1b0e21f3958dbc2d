import type { ComponentChildren } from "preact";

import { useApp } from "../context";
import { GrownUps } from "./GrownUps";
import { LanguageSwitch } from "./LanguageSwitch";

export function TopBar({ title, back }: { title: string; back?: ComponentChildren }) {
  const { t, signOut, session } = useApp();
  return (
    <header class="bar">
      {back}
      <h1 class="title">{title}</h1>
      <div class="actions">
        <LanguageSwitch />
        {session?.role === "child" ? (
          <GrownUps />
        ) : (
          <button id="signout" type="button" class="link" onClick={() => void signOut()}>
            {t("signOut")}
          </button>
        )}
      </div>
    </header>
  );
}
