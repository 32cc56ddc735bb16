// i18next set-up: English and French resources bundled, the choice remembered in localStorage.

import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en.json";
import fr from "./fr.json";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "fr", label: "Français" },
] as const;

const KEY = "botbuilder.lang";

function initialLanguage(): string {
  const saved = localStorage.getItem(KEY);
  if (saved && LANGUAGES.some((l) => l.code === saved)) return saved;
  return navigator.language?.toLowerCase().startsWith("fr") ? "fr" : "en";
}

export function setLanguage(code: string): void {
  localStorage.setItem(KEY, code);
  void i18n.changeLanguage(code);
}

i18n.on("languageChanged", (lng) => {
  document.documentElement.lang = lng;
});

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, fr: { translation: fr } },
  lng: initialLanguage(),
  fallbackLng: "en",
  interpolation: { escapeValue: false },
});

export default i18n;
