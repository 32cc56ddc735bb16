// The widget's styles, inside its Shadow DOM only: nothing leaks into the page, and the
// page's styles reach the widget only through inherited properties, which `:host` resets.
// `--bb-color` is the bot's color (`appearance.color`).

export const CSS = `
:host { all: initial !important; display: block !important; --bb-color: #2563eb; --bb-on-color: #fff; --bb-bg: #fff; --bb-fg: #111827;
  --bb-muted: #6b7280; --bb-bubble: #f3f4f6; --bb-border: #e5e7eb; }
@media (prefers-color-scheme: dark) {
  :host { --bb-bg: #111827; --bb-fg: #f9fafb; --bb-muted: #9ca3af; --bb-bubble: #1f2937; --bb-border: #374151; }
}
* { box-sizing: border-box; }
/* On the frame, not :host, whose reset (all: initial !important) outranks any other rule there. */
.floating, .inline { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Arabic", sans-serif;
  color: var(--bb-fg); }
button, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--bb-color); outline-offset: 2px; }
.launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 56px; height: 56px;
  border-radius: 50%; border: 0; background: var(--bb-color); color: var(--bb-on-color); cursor: pointer;
  box-shadow: 0 4px 16px rgba(0,0,0,.25); display: grid; place-items: center; }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.launcher.unread::after { content: ""; position: absolute; top: 4px; right: 4px; width: 12px; height: 12px;
  border-radius: 50%; background: #dc2626; border: 2px solid var(--bb-on-color); }
.left .launcher { right: auto; left: 20px; }
.panel { position: fixed; bottom: 88px; right: 20px; z-index: 2147483000; width: min(380px, calc(100vw - 24px));
  height: min(600px, calc(100vh - 112px)); display: flex; flex-direction: column; background: var(--bb-bg);
  border: 1px solid var(--bb-border); border-radius: 14px; box-shadow: 0 8px 32px rgba(0,0,0,.2); overflow: hidden; }
.left .panel { right: auto; left: 20px; }
.panel[hidden] { display: none; }
:host([data-mode="inline"]) { height: 100% !important; }
.inline { height: 100%; }
.inline .panel { position: static; width: 100%; height: 100%; min-height: 360px; box-shadow: none; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100vw; height: 100%; border-radius: 0; border: 0; }
  .open .launcher { display: none; }
}
header { display: flex; align-items: center; gap: 10px; padding: 12px 14px; background: var(--bb-color);
  color: var(--bb-on-color); }
header img { width: 32px; height: 32px; border-radius: 50%; object-fit: cover; }
header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.close { border: 0; background: transparent; color: inherit; cursor: pointer; font-size: 22px; line-height: 1; padding: 4px 8px; border-radius: 6px; }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 85%; padding: 8px 12px; border-radius: 14px; background: var(--bb-bubble); overflow-wrap: anywhere; }
.msg.inbound { align-self: flex-end; background: var(--bb-color); color: var(--bb-on-color); }
.msg.inbound a { color: inherit; }
.msg.agent { border: 1px solid var(--bb-color); }
.msg .who { display: block; font-size: 12px; color: var(--bb-muted); margin-bottom: 2px; }
.msg p { margin: 0 0 6px; } .msg p:last-child { margin-bottom: 0; }
.msg ul, .msg ol { margin: 0 0 6px; padding-inline-start: 20px; }
.msg pre { margin: 0 0 6px; padding: 8px; overflow-x: auto; background: rgba(0,0,0,.06); border-radius: 6px; }
.msg code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
.msg img { max-width: 100%; border-radius: 8px; }
.msg sup { font-size: 11px; }
.sources { margin: 6px 0 0; padding-inline-start: 18px; font-size: 12px; color: var(--bb-muted); }
.sources a { color: inherit; }
.choices { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.choices button, .quick button, .retry { border: 1px solid var(--bb-color); background: var(--bb-bg); color: var(--bb-color);
  border-radius: 16px; padding: 4px 12px; cursor: pointer; }
.choices button:hover, .quick button:hover { background: var(--bb-color); color: var(--bb-on-color); }
.quick { display: flex; flex-wrap: wrap; gap: 6px; padding: 0 14px 8px; }
.status { font-size: 13px; color: var(--bb-muted); padding: 0 2px; }
.notice { align-self: center; font-size: 13px; color: var(--bb-muted); text-align: center; }
.error { align-self: flex-end; font-size: 13px; color: #b91c1c; display: flex; gap: 8px; align-items: center; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid var(--bb-border); }
textarea { flex: 1; resize: none; min-height: 40px; max-height: 120px; padding: 9px 12px; border: 1px solid var(--bb-border);
  border-radius: 10px; background: var(--bb-bg); }
.send { border: 0; border-radius: 10px; padding: 0 14px; background: var(--bb-color); color: var(--bb-on-color); cursor: pointer; }
.send:disabled { opacity: .5; cursor: default; }
`;
