// Light/dark theme: a `dark` class on <html>, remembered in localStorage, defaulting to the
// system's preference.

export type Theme = "light" | "dark";
const KEY = "botbuilder.theme";

export function initialTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme, remember = false): void {
  document.documentElement.classList.toggle("dark", theme === "dark");
  document.documentElement.style.colorScheme = theme;
  if (remember) localStorage.setItem(KEY, theme);
}
