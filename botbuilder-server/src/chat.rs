//! `botbuilder chat --bot ID`: talk to a bot in the terminal, the engine running in this
//! process on the configured database (beside a running server, if any).
//!
//! On a terminal the input line can be edited (arrows, history, Ctrl-A/E; `rustyline`);
//! piped input is read line by line. Replies show their buttons (`[Yes] [No]`) and the
//! sources they cite (`[1] Shop guide › Refunds`). Commands: `/help`, `/new` (a new
//! conversation), `/quit` (or Ctrl-D).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use botbuilder_core::engine::Inbound;
use botbuilder_core::id::BotId;
use botbuilder_core::knowledge::DocumentExtractor;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::state::{
    Embedders, engine_builder, fetcher, knowledge_service, open_backend, provider_registry,
};

/// What `/help` prints.
pub const HELP: &str = "Type a message and press Enter. Commands:\n  /help  this help\n  \
    /new   start a new conversation\n  /quit  leave (or Ctrl-D)";

/// Where the chat's settings come from.
#[derive(Debug)]
pub struct ChatOptions<'a> {
    /// The database.
    pub database_url: &'a str,
    /// The bot's id (as typed).
    pub bot: &'a str,
    /// The user id on the `terminal` channel.
    pub user: &'a str,
    /// Non-public targets flow HTTP nodes may reach.
    pub fetch_allow: &'a [std::net::SocketAddr],
    /// Outbound proxy, if any.
    pub fetch_proxy: Option<&'a str>,
    /// Server-wide language model credentials and the model catalog.
    pub llm: &'a crate::config::LlmSettings,
    /// Organizations' own provider credentials (used before the server-wide ones).
    pub credentials: std::sync::Arc<crate::credential_source::DeferredCredentials>,
}

/// The lines a person types: edited on a terminal, read plainly from a pipe. Ends at end of
/// input.
fn input_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        if std::io::stdin().is_terminal() {
            let Ok(mut editor) = rustyline::DefaultEditor::new() else {
                return;
            };
            while let Ok(line) = editor.readline("> ") {
                let _ = editor.add_history_entry(line.as_str());
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        } else {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

/// The lines printed for one reply: its text, buttons and cited sources.
pub fn render_reply(bot: &str, text: &str, payload: &Value) -> Vec<String> {
    let mut lines = vec![format!("{bot}: {text}")];
    if let Some(buttons) = payload.get("buttons").and_then(Value::as_array) {
        let titles: Vec<&str> = buttons.iter().filter_map(|b| b["title"].as_str()).collect();
        lines.push(format!("   [{}]", titles.join("] [")));
    }
    if let Some(citations) = payload.get("citations").and_then(Value::as_array) {
        for citation in citations {
            let title = citation["title"].as_str().unwrap_or("source");
            let mut parts = vec![title];
            for heading in citation["heading_path"].as_array().into_iter().flatten() {
                // A document's first heading is often its title: said once.
                if let Some(heading) = heading.as_str().filter(|h| parts.last() != Some(h)) {
                    parts.push(heading);
                }
            }
            let label = parts.join(" › ");
            lines.push(format!(
                "   [{}] {label}",
                citation["n"].as_u64().unwrap_or(0)
            ));
        }
    }
    lines
}

/// Runs the chat (see the module docs).
pub async fn chat(
    options: ChatOptions<'_>,
    embedders: Embedders,
    extractor: Arc<dyn DocumentExtractor>,
) -> anyhow::Result<()> {
    let bot: BotId = options.bot.parse().context("--bot must be a bot id")?;
    let (store, queue) = open_backend(options.database_url).await?;
    let knowledge = Arc::new(knowledge_service(
        store.clone(),
        queue,
        embedders,
        extractor,
        crate::config::database::default_index_dir(options.database_url),
    ));
    let found = store
        .get_public_bot(bot)
        .await
        .with_context(|| format!("no bot {bot} in {}", options.database_url))?;
    let guarded = fetcher(options.fetch_allow, options.fetch_proxy)?;
    let providers = Arc::new(
        provider_registry(options.llm, guarded.clone(), options.fetch_proxy)?
            .with_organization_credentials(options.credentials.clone()),
    );
    let engine = engine_builder(store, guarded, providers)
        .knowledge(knowledge)
        .build()?;
    let interactive = std::io::stdin().is_terminal();
    println!(
        "Talking to {} (/help for commands, Ctrl-D or /quit to leave)",
        found.name
    );
    let mut conversation = 0u32;
    let mut lines = input_lines();
    loop {
        if !interactive {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.recv().await else {
            break;
        };
        let text = line.trim();
        match text {
            "" => continue,
            "/quit" | "/exit" => break,
            "/help" => {
                println!("{HELP}");
                continue;
            }
            "/new" => {
                conversation += 1;
                println!("(a new conversation)");
                continue;
            }
            _ => {}
        }
        let user = if conversation == 0 {
            options.user.to_owned()
        } else {
            format!("{}#{conversation}", options.user)
        };
        let turn = engine
            .handle(Inbound {
                org: found.org_id,
                bot,
                channel: "terminal".to_owned(),
                external_user: user,
                text: text.to_owned(),
            })
            .await?;
        for reply in &turn.replies {
            for line in render_reply(&found.name, &reply.text, &reply.payload) {
                println!("{line}");
            }
        }
        if turn.replies.is_empty() {
            println!("(no reply: a human agent has this conversation)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_show_buttons_and_cited_sources() {
        let payload = serde_json::json!({
            "buttons": [{ "title": "Yes" }, { "title": "No" }],
            "citations": [{ "n": 1, "title": "Shop guide", "heading_path": ["Shop guide", "Refunds"] }],
        });
        assert_eq!(
            render_reply("Bot", "Five days. [1]", &payload),
            vec![
                "Bot: Five days. [1]",
                "   [Yes] [No]",
                "   [1] Shop guide › Refunds"
            ]
        );
    }
}
