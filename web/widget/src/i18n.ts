// The widget's own words, in English, French, Spanish and Arabic (right to left). A bot picks
// the language in its settings (`appearance.language`); otherwise the page's or the
// browser's is used when the widget has it, else English.

const en = {
  open: "Open chat",
  close: "Close chat",
  title: "Chat",
  placeholder: "Write a message…",
  send: "Send",
  typing: "Typing…",
  handoff: "A person will reply here soon.",
  notSent: "Your message was not sent.",
  retry: "Try again",
  sources: "Sources",
  tool: "Working: {name}…",
  agent: "Agent",
  unavailable: "The chat is unavailable right now.",
  noReply: "No answer came. Please write again.",
  newMessage: "new message",
  newConversation: "Your earlier conversation has ended; this is a new one.",
};

/** The strings of one language. */
export type Strings = typeof en;

const fr: Strings = {
  open: "Ouvrir la discussion",
  close: "Fermer la discussion",
  title: "Discussion",
  placeholder: "Écrivez un message…",
  send: "Envoyer",
  typing: "En train d’écrire…",
  handoff: "Une personne va vous répondre ici.",
  notSent: "Votre message n’a pas été envoyé.",
  retry: "Réessayer",
  sources: "Sources",
  tool: "En cours : {name}…",
  agent: "Conseiller",
  unavailable: "La discussion est indisponible pour le moment.",
  noReply: "Aucune réponse n’est arrivée. Écrivez de nouveau.",
  newMessage: "nouveau message",
  newConversation: "Votre conversation précédente est terminée ; en voici une nouvelle.",
};

const es: Strings = {
  open: "Abrir chat",
  close: "Cerrar chat",
  title: "Chat",
  placeholder: "Escribe un mensaje…",
  send: "Enviar",
  typing: "Escribiendo…",
  handoff: "Una persona te responderá aquí en breve.",
  notSent: "Tu mensaje no se envió.",
  retry: "Reintentar",
  sources: "Fuentes",
  tool: "Trabajando: {name}…",
  agent: "Agente",
  unavailable: "El chat no está disponible en este momento.",
  noReply: "No llegó ninguna respuesta. Escribe de nuevo.",
  newMessage: "mensaje nuevo",
  newConversation: "Tu conversación anterior terminó; esta es una nueva.",
};

const ar: Strings = {
  open: "افتح المحادثة",
  close: "أغلق المحادثة",
  title: "محادثة",
  placeholder: "اكتب رسالة…",
  send: "إرسال",
  typing: "يكتب…",
  handoff: "سيرد عليك أحد موظفينا هنا قريبًا.",
  notSent: "لم تُرسل رسالتك.",
  retry: "أعد المحاولة",
  sources: "المصادر",
  tool: "جارٍ العمل: {name}…",
  agent: "موظف",
  unavailable: "المحادثة غير متاحة حاليًا.",
  noReply: "لم يصل أي رد. اكتب مرة أخرى.",
  newMessage: "رسالة جديدة",
  newConversation: "انتهت محادثتك السابقة؛ هذه محادثة جديدة.",
};

const LANGUAGES = new Map<string, Strings>([
  ["en", en],
  ["fr", fr],
  ["es", es],
  ["ar", ar],
]);
const RIGHT_TO_LEFT = new Set(["ar", "he", "fa", "ur"]);

/** A language the widget speaks: its code, strings and writing direction. */
export interface Language {
  code: string;
  strings: Strings;
  dir: "ltr" | "rtl";
}

/** The first of `wanted` (BCP 47 tags, `fr-CA`) the widget has, else English. */
export function pickLanguage(wanted: readonly (string | null | undefined)[]): Language {
  for (const tag of wanted) {
    const code = tag?.toLowerCase().split("-")[0];
    const strings = code ? LANGUAGES.get(code) : undefined;
    if (code && strings) return { code, strings, dir: RIGHT_TO_LEFT.has(code) ? "rtl" : "ltr" };
  }
  return { code: "en", strings: en, dir: "ltr" };
}
