import { useApp } from "../context";
import { LOCALES, isLocale } from "../i18n";

const NAMES = { fi: "Suomi", sv: "Svenska", en: "English" } as const;

export function LanguageSwitch() {
  const { t, locale, setLocale } = useApp();
  return (
    <label class="language">
      <span class="visually-hidden">{t("language")}</span>
      <select
        id="language"
        value={locale}
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (isLocale(v)) setLocale(v);
        }}
      >
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
