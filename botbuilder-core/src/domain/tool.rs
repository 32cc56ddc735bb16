use serde::{Deserialize, Serialize};

/// An HTTP API the bot's language model may call (function calling).
///
/// The model sees `name`, `description` and `parameters` (a JSON Schema of an object). When
/// it calls the tool, the engine checks the arguments against the schema, then sends
/// `method` to `url` with every `{{arg}}` placeholder replaced by that argument
/// (percent-encoded); the arguments not used in the URL travel as the JSON body (`POST`,
/// `PUT`, `PATCH`) or the query string (`GET`, `DELETE`). The response (status and body,
/// cut at 8 KiB) goes back to the model. Calls go through the same outbound guard as flow
/// HTTP nodes: private addresses are refused unless the operator allows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpTool {
    /// Name the model calls it by (`^[a-zA-Z0-9_-]{1,64}$`).
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// JSON Schema of the arguments (an object).
    pub parameters: serde_json::Value,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// `http(s)` URL, with `{{arg}}` placeholders.
    pub url: String,
    /// Headers to send (values may contain `{{arg}}` placeholders too, and
    /// `{{secrets.NAME}}` for an organization secret, sent only to the secret's origin; see
    /// [`crate::credentials::named`]).
    #[serde(default)]
    pub headers: Vec<ToolHeader>,
    /// Seconds before the call is given up (1 to 30).
    #[serde(default = "HttpTool::default_timeout_secs")]
    pub timeout_secs: u32,
}

impl HttpTool {
    /// Default [`HttpTool::timeout_secs`].
    pub const DEFAULT_TIMEOUT_SECS: u32 = 10;

    fn default_timeout_secs() -> u32 {
        Self::DEFAULT_TIMEOUT_SECS
    }
}

/// One header of a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}
