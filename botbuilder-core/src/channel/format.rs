//! The one formatter: an engine [`OutboundMessage`] fitted to a channel's [`Capabilities`].

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::{Button, Image, OutboundMessage};

/// What a channel can show. Lengths are in UTF-16 code units (what Telegram counts, and never
/// fewer than the characters WhatsApp and Slack count); `0` means unlimited for lengths and
/// "none" for counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Longest text one message can carry.
    pub max_text_len: usize,
    /// Most buttons one message can carry.
    pub max_buttons: usize,
    /// Most rows of a list, for more choices than buttons (0 = no lists).
    pub max_list_rows: usize,
    /// Longest button title.
    pub max_button_title_len: usize,
    /// Longest list row title.
    pub max_list_title_len: usize,
    /// Quick replies shown as such (otherwise they become buttons).
    pub quick_replies: bool,
    /// Images shown as images (otherwise their URL goes into the text).
    pub images: bool,
    /// A typing indicator.
    pub typing: bool,
}

impl Capabilities {
    /// Text only, of any length: the least any channel does.
    pub const fn text_only() -> Self {
        Self {
            max_text_len: 0,
            max_buttons: 0,
            max_list_rows: 0,
            max_button_title_len: 0,
            max_list_title_len: 0,
            quick_replies: false,
            images: false,
            typing: false,
        }
    }

    /// Builder-style setters, so platforms outside this crate can describe themselves.
    pub const fn with_text_len(mut self, len: usize) -> Self {
        self.max_text_len = len;
        self
    }

    /// Sets [`Capabilities::max_buttons`] and [`Capabilities::max_button_title_len`].
    pub const fn with_buttons(mut self, count: usize, title_len: usize) -> Self {
        self.max_buttons = count;
        self.max_button_title_len = title_len;
        self
    }

    /// Sets [`Capabilities::max_list_rows`] and [`Capabilities::max_list_title_len`].
    pub const fn with_list(mut self, rows: usize, title_len: usize) -> Self {
        self.max_list_rows = rows;
        self.max_list_title_len = title_len;
        self
    }

    /// Sets [`Capabilities::quick_replies`], [`Capabilities::images`] and
    /// [`Capabilities::typing`].
    pub const fn with_media(mut self, quick_replies: bool, images: bool, typing: bool) -> Self {
        self.quick_replies = quick_replies;
        self.images = images;
        self.typing = typing;
        self
    }
}

/// How choices are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Buttons attached to the message.
    Buttons,
    /// A list the user opens (WhatsApp list messages).
    List,
    /// Suggested replies that disappear once used.
    QuickReplies,
}

/// Choices offered with a text part, already within the channel's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choices {
    /// How they are shown.
    pub style: Style,
    /// The options, titles shortened to the channel's limit; payloads untouched.
    pub options: Vec<Button>,
}

/// One thing a sender delivers, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Show that the bot is writing.
    Typing,
    /// An image.
    Image(Image),
    /// Text within the channel's length limit, with the message's choices on its last part.
    Text {
        /// The text.
        text: String,
        /// Choices to offer with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        choices: Option<Choices>,
    },
}

/// Fits `message` to `caps` (see the module table in [`crate::channel`]):
/// - typing first, where shown; an image as its own part, or its URL in the text;
/// - buttons and quick replies as such while they fit, else a list, else numbered lines
///   ("1. Yes") the user answers by number ([`numbered_choice`]);
/// - text split at `max_text_len` at the last paragraph, line, sentence or word break before
///   it (a grapheme boundary at worst), the choices on the last part.
///
/// A message with nothing to show gives no parts.
pub fn format(message: &OutboundMessage, caps: &Capabilities) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = message.text.trim().to_owned();
    if message.typing && caps.typing {
        parts.push(Part::Typing);
    }
    if let Some(image) = &message.image {
        if caps.images {
            parts.push(Part::Image(image.clone()));
        } else {
            let line = if image.alt.trim().is_empty() {
                image.url.clone()
            } else {
                format!("{}: {}", image.alt.trim(), image.url)
            };
            text = join_paragraphs(&line, &text);
        }
    }

    let choices = fit_choices(message, caps, &mut text);
    let mut pieces = split_text(&text, caps.max_text_len);
    if pieces.is_empty() && choices.is_some() {
        pieces.push(String::new());
    }
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.into_iter().enumerate() {
        let choices = if i == last { choices.clone() } else { None };
        parts.push(Part::Text {
            text: piece,
            choices,
        });
    }
    parts
}

/// The option a user picked by answering with its number ("2", "2." or " 2 ") to a message
/// whose choices were shown as numbered lines; `None` for anything else.
pub fn numbered_choice<'a>(answer: &str, options: &'a [Button]) -> Option<&'a Button> {
    let answer = answer.trim().trim_end_matches(['.', ')']);
    let n: usize = answer.parse().ok()?;
    n.checked_sub(1).and_then(|i| options.get(i))
}

fn join_paragraphs(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_owned(),
        (_, true) => first.to_owned(),
        _ => format!("{first}\n\n{second}"),
    }
}

fn fit_choices(
    message: &OutboundMessage,
    caps: &Capabilities,
    text: &mut String,
) -> Option<Choices> {
    let quick = message.buttons.is_empty() && !message.quick_replies.is_empty();
    let options: Vec<Button> = message
        .buttons
        .iter()
        .chain(&message.quick_replies)
        .cloned()
        .collect();
    if options.is_empty() {
        return None;
    }
    let n = options.len();
    let (style, title_len) = if quick && caps.quick_replies && n <= caps.max_buttons.max(12) {
        (Style::QuickReplies, caps.max_button_title_len)
    } else if n <= caps.max_buttons {
        (Style::Buttons, caps.max_button_title_len)
    } else if n <= caps.max_list_rows {
        (Style::List, caps.max_list_title_len)
    } else {
        let lines: Vec<String> = options
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{}. {}", i + 1, b.title.trim()))
            .collect();
        *text = join_paragraphs(text, &lines.join("\n"));
        return None;
    };
    let options = options
        .into_iter()
        .map(|b| Button {
            title: shorten(&b.title, title_len),
            payload: b.payload,
        })
        .collect();
    Some(Choices { style, options })
}

/// Length in UTF-16 code units.
fn len16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `title` cut to `max` UTF-16 units (0 = unlimited) at a grapheme boundary, with an ellipsis.
fn shorten(title: &str, max: usize) -> String {
    let title = title.trim();
    if max == 0 || len16(title) <= max {
        return title.to_owned();
    }
    let mut out = String::new();
    for g in title.graphemes(true) {
        if len16(&out) + len16(g) + 1 > max {
            break;
        }
        out.push_str(g);
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Splits `text` into pieces of at most `max` UTF-16 units (0 = no limit), each trimmed.
fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if max == 0 || len16(rest) <= max {
            pieces.push(rest.to_owned());
            break;
        }
        let cut = cut_point(rest, max);
        pieces.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    pieces
}

/// The byte index to cut `text` at: the last paragraph, line, sentence or word break within
/// `max` UTF-16 units; failing those, the last grapheme boundary (never 0).
fn cut_point(text: &str, max: usize) -> usize {
    // The longest prefix within `max`, on a grapheme boundary.
    let mut limit = 0;
    let mut units = 0;
    for (i, g) in text.grapheme_indices(true) {
        let next = units + len16(g);
        if next > max {
            break;
        }
        units = next;
        limit = i + g.len();
    }
    if limit == 0 {
        // One grapheme longer than the limit: cut it at a char boundary instead.
        limit = text
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .take_while(|end| len16(&text[..*end]) <= max)
            .last()
            .unwrap_or_else(|| text.chars().next().map_or(text.len(), char::len_utf8));
        return limit;
    }
    let window = &text[..limit];
    let at_least = limit / 3; // never leave a tiny first piece for a far-back break
    for separator in ["\n\n", "\n", ". ", "! ", "? ", " "] {
        if let Some(i) = window.rfind(separator)
            && i + separator.len() > at_least
        {
            return i + separator.len();
        }
    }
    limit
}

#[cfg(test)]
mod tests;
