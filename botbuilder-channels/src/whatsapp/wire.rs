//! WhatsApp Cloud API webhook types (Meta Graph), only the fields we read, every one lenient.
//! Source: <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components>.

use serde::Deserialize;

/// The webhook body: `{"object":"whatsapp_business_account","entry":[…]}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Notification {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Value {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub statuses: Vec<Status>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub phone_number_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Contact {
    #[serde(default)]
    pub wa_id: String,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Profile {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub from: String,
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub interactive: Option<Interactive>,
    /// A template's quick-reply button.
    #[serde(default)]
    pub button: Option<TemplateButton>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub audio: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub sticker: Option<Media>,
    #[serde(default)]
    pub location: Option<Location>,
    /// The message this one answers (a button reply's `context.id` is the message the
    /// button was on).
    #[serde(default)]
    pub context: Option<Context>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Context {
    #[serde(default)]
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Text {
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Interactive {
    #[serde(default)]
    pub button_reply: Option<Reply>,
    #[serde(default)]
    pub list_reply: Option<Reply>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Reply {
    pub id: String,
    #[serde(default)]
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TemplateButton {
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Media {
    pub id: String,
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Status {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub recipient_id: String,
    #[serde(default)]
    pub errors: Vec<GraphError>,
}

/// A Graph API error: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`
/// (webhook status errors use `code`, `title`, `message`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: GraphError,
}
