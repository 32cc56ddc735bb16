// Where sign-in leads back to: the page that sent the user to /login, query and hash included.

/** Where to go after sign-in: `from` when it is a path of this app other than the sign-in pages. */
export function afterSignIn(from: unknown): string {
  if (typeof from !== "string" || !from.startsWith("/") || from.startsWith("//")) return "/bots";
  return /^\/(login|signup)(?:[/?#]|$)/.test(from) ? "/bots" : from;
}
