//! Telegram Bot API types, only the fields we read, every one lenient (absent fields default)
//! so a new field or an omitted one never breaks parsing. Source:
//! <https://core.telegram.org/bots/api#available-types>.

use serde::Deserialize;

/// `Update`: at most one of the optional fields is present.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

/// `Message`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub photo: Vec<FileRef>,
    #[serde(default)]
    pub document: Option<FileRef>,
    #[serde(default)]
    pub audio: Option<FileRef>,
    #[serde(default)]
    pub video: Option<FileRef>,
    #[serde(default)]
    pub voice: Option<FileRef>,
    #[serde(default)]
    pub sticker: Option<FileRef>,
    #[serde(default)]
    pub location: Option<Location>,
}

/// `User`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// `Chat`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Chat {
    pub id: i64,
}

/// The part of `PhotoSize`, `Document`, `Audio`, ... that identifies the file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileRef {
    pub file_id: String,
}

/// `Location`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// `CallbackQuery`: a press of an inline keyboard button.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CallbackQuery {
    pub id: String,
    pub from: User,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

/// Every method's answer: `{"ok":true,"result":…}` or `{"ok":false,"error_code":…,
/// "description":…,"parameters":{"retry_after":…}}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiResponse {
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub result: serde_json::Value,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<ResponseParameters>,
}

/// `ResponseParameters`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResponseParameters {
    #[serde(default)]
    pub retry_after: Option<u64>,
}
