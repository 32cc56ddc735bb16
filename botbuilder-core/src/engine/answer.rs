//! The AI handler: the bot's provider chain is tried in order until one answers; when none
//! can, the bot's `unavailable_message` is the reply. Which provider and model answered,
//! whether it was a fallback, whether usage is estimated and why earlier links failed are
//! recorded on the reply's payload under `llm`:
//!
//! ```json
//! {"llm": {"provider": "anthropic", "model": "claude-haiku-4-5", "fallback": true,
//!          "usage_estimated": false,
//!          "attempts": [{"provider": "openai", "model": "gpt-4o-mini", "error": "transient"}]}}
//! ```
//!
//! Before a priced call, its worst case is reserved against the organization's monthly spend
//! limit ([`super::spend`]); past the limit no call is made (and no other link is tried).
//! A link is skipped when it cannot be called (no credentials, unknown provider) and left for
//! the next when it fails in a way that belongs to the provider
//! ([`ProviderError::warrants_fallback`]: rate limited, down, refusing its credentials). A
//! request the provider refuses as such (too long, invalid) is not sent elsewhere. A
//! streamed answer that breaks after text was shown is kept as it stands (it cannot be taken
//! back from the listener), with its usage estimated; so is one whose listener goes away,
//! whose upstream call is then dropped (which aborts it) rather than paid for to the end.

use serde_json::{Value, json};

use super::call::{Outcome, call};
use super::spend::LimitReached;
use super::tools::{self, ToolRun};
use super::{DeltaSender, Engine, EngineError, EngineEvent, TurnEvent, rag};
use crate::domain::{Bot, LlmCall, MessageDirection, NewMessage};
use crate::id::SessionId;
use crate::llm::{ChatMessage, ChatRequest, ChatRole, Route, ToolSpec, Unavailable, Usage};
use crate::prompt;

/// The `error` code on the payload of an unavailable reply.
pub const PROVIDER_UNAVAILABLE: &str = "provider_unavailable";
/// `llm.interrupted` of an answer whose listener went away mid-stream.
pub const LISTENER_GONE: &str = "listener_gone";

/// One failed link, as recorded.
fn attempt(route: &Route, error: &str) -> Value {
    json!({ "provider": route.provider_id, "model": route.model, "error": error })
}

/// What the AI handler is asked to answer.
#[derive(Debug)]
pub(super) struct Asked<'a> {
    /// The session the answer belongs to.
    pub(super) session: SessionId,
    /// The user's message.
    pub(super) text: &'a str,
    /// The flow's instructions for this answer, if any.
    pub(super) instructions: Option<String>,
    /// The conversation so far as the caller gave it (instead of the stored one).
    pub(super) history: Option<&'a [crate::llm::ChatMessage]>,
}

impl Engine {
    /// Asks the bot's provider chain, with as much recent history as fits the model's context
    /// window, and returns the reply to store (with tokens and cost) and whether its text was
    /// streamed. With `deltas`, the answer is streamed into it as it is written (the
    /// unavailable message is not: it is only the reply's text).
    pub(super) async fn ai_answer(
        &self,
        bot: &Bot,
        spend_limit: Option<i64>,
        asked: Asked<'_>,
        deltas: Option<&DeltaSender>,
    ) -> Result<(NewMessage, bool), EngineError> {
        let config = &bot.ai_config;
        let text = asked.text;
        let mut system = config.system_prompt.clone();
        if let Some(extra) = asked.instructions {
            system = format!("{system}\n\n{extra}");
        }
        let stored;
        let turns: Vec<prompt::Turn<'_>> = match asked.history {
            Some(given) => {
                for instruction in given.iter().filter(|m| m.role == ChatRole::System) {
                    system = format!("{system}\n\n{}", instruction.content);
                }
                given
                    .iter()
                    .filter(|m| matches!(m.role, ChatRole::User | ChatRole::Assistant))
                    .map(|m| prompt::Turn {
                        role: m.role,
                        text: &m.content,
                    })
                    .collect()
            }
            None => {
                let mut history = self
                    .store
                    .recent_messages(bot.org_id, asked.session, self.config.history_window + 1)
                    .await?;
                // The newest stored message is this turn's inbound one, sent as `user`.
                history.pop();
                stored = history;
                stored
                    .iter()
                    .map(|m| prompt::Turn {
                        role: match m.direction {
                            MessageDirection::Inbound => ChatRole::User,
                            MessageDirection::Outbound | MessageDirection::Agent => {
                                ChatRole::Assistant
                            }
                        },
                        text: &m.text,
                    })
                    .collect()
            }
        };
        let hits = match &self.knowledge {
            Some(knowledge) if !config.knowledge_base_ids.is_empty() => {
                Some(rag::retrieve(knowledge, bot, text).await?)
            }
            _ => None,
        };

        let routes = self.resolver.resolve(bot.org_id, config).await;
        let mut attempts = Vec::new();
        'routes: for (position, route) in routes.iter().enumerate() {
            let provider = match &route.target {
                Ok(provider) => provider,
                Err(why) => {
                    attempts.push(attempt(route, why.code()));
                    continue;
                }
            };
            let info = provider.model_info(&route.model);
            let retrieved = hits
                .clone()
                .map(|hits| rag::sources_for(hits, &route.model, info.context_window));
            let system = match &retrieved {
                Some(r) => format!("{system}\n\n{}", r.instructions),
                None => system.clone(),
            };
            let prompt = prompt::assemble(&prompt::PromptParts {
                model: &route.model,
                context_window: info.context_window,
                max_tokens: config.max_tokens,
                system: &system,
                extra_tokens: retrieved.as_ref().map_or(0, |r| r.tokens),
                history: &turns,
                user: text,
            });
            let mut request = ChatRequest {
                model: route.model.clone(),
                messages: prompt.messages,
                temperature: config.temperature,
                max_tokens: config.max_tokens,
                sources: retrieved.as_ref().map(|r| r.sources.clone()),
                tools: Vec::new(),
            };
            let uses_tools = !config.tools.is_empty() && provider.capabilities().tools;
            let specs: Vec<ToolSpec> = if uses_tools {
                config
                    .tools
                    .iter()
                    .map(|t| ToolSpec {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: t.parameters.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            // Counted when first needed (a reservation, an estimate): see `prompt`.
            let extra_tokens = retrieved.as_ref().map_or(0, |r| r.tokens);
            let mut prompt_tokens_so_far = prompt.tokens;
            let mut answer = String::new();
            let mut usage = Usage::default();
            let mut estimated = false;
            let mut interrupted = None;
            let mut runs: Vec<ToolRun> = Vec::new();
            let mut step = 0;
            loop {
                // The last round offers no tools: the model must answer.
                request.tools = if step < config.max_tool_steps {
                    specs.clone()
                } else {
                    Vec::new()
                };
                // The prompt's count grows with what the tools returned in earlier rounds.
                let count = |messages: &[ChatMessage]| {
                    prompt::count_prompt(&route.model, messages).saturating_add(extra_tokens)
                };
                let worst_case = if spend_limit.is_some() {
                    let prompt_tokens =
                        *prompt_tokens_so_far.get_or_insert_with(|| count(&request.messages));
                    info.cost_micros(Usage {
                        prompt_tokens,
                        completion_tokens: config.max_tokens,
                    })
                } else {
                    0
                };
                let now = self.clock.now();
                let reservation = match self
                    .spend
                    .reserve(
                        self.store.as_ref(),
                        bot.org_id,
                        spend_limit,
                        worst_case,
                        now,
                    )
                    .await?
                {
                    Ok(reservation) => reservation,
                    Err(LimitReached) => {
                        tracing::warn!(bot = %bot.id, org = %bot.org_id,
                            "monthly spend limit reached; the call is not made");
                        self.publish(EngineEvent::SpendLimitReached {
                            org: bot.org_id,
                            bot: bot.id,
                        });
                        if step == 0 {
                            attempts.push(attempt(route, Unavailable::SpendLimitReached.code()));
                            break 'routes;
                        }
                        interrupted = Some(Unavailable::SpendLimitReached.code());
                        break;
                    }
                };
                let (text, reported, calls) = match call(provider.as_ref(), &request, deltas).await
                {
                    Outcome::Answered {
                        text,
                        usage,
                        tool_calls,
                    } => (text, usage, tool_calls),
                    Outcome::Interrupted { text, error } => {
                        tracing::warn!(bot = %bot.id, provider = %route.provider_id,
                            "answer stream broke: {}", crate::error_chain(&error));
                        interrupted = Some(error.code());
                        (text, Usage::default(), Vec::new())
                    }
                    Outcome::Abandoned { text } => {
                        interrupted = Some(LISTENER_GONE);
                        (text, Usage::default(), Vec::new())
                    }
                    Outcome::Failed(error) => {
                        drop(reservation);
                        tracing::warn!(bot = %bot.id, provider = %route.provider_id,
                            model = %route.model, "language model call failed: {}",
                            crate::error_chain(&error));
                        if step == 0 {
                            attempts.push(attempt(route, error.code()));
                            if error.warrants_fallback() {
                                continue 'routes;
                            }
                            break 'routes;
                        }
                        // Tools already ran: no other provider repeats them.
                        interrupted = Some(error.code());
                        break;
                    }
                };
                // Believe the provider's count; estimate only when it reports none.
                let step_usage = if reported == Usage::default() {
                    estimated = true;
                    Usage {
                        prompt_tokens: *prompt_tokens_so_far
                            .get_or_insert_with(|| count(&request.messages)),
                        completion_tokens: prompt::count_tokens(&route.model, &text),
                    }
                } else {
                    reported
                };
                if let Some(reservation) = reservation {
                    reservation.settle(info.cost_micros(step_usage));
                }
                usage = usage.plus(step_usage);
                answer.push_str(&text);
                if calls.is_empty() || interrupted.is_some() {
                    break;
                }
                if let Some(so_far) = prompt_tokens_so_far.as_mut() {
                    *so_far += step_usage.completion_tokens;
                }
                let mut assistant = ChatMessage::assistant(text);
                assistant.tool_calls.clone_from(&calls);
                request.messages.push(assistant);
                for tool_call in &calls {
                    let context = tools::ToolContext {
                        org: bot.org_id,
                        fetcher: self.fetcher.as_deref(),
                        secrets: self.secrets.as_deref(),
                    };
                    let (run, result) = tools::run(&config.tools, tool_call, context).await;
                    if let Some(deltas) = deltas {
                        let _listener_may_be_gone =
                            deltas.send(Ok(TurnEvent::Tool(run.clone()))).await;
                    }
                    runs.push(run);
                    if let Some(so_far) = prompt_tokens_so_far.as_mut() {
                        *so_far += prompt::count_tokens(&route.model, &result)
                            + prompt::TOKENS_PER_MESSAGE;
                    }
                    request
                        .messages
                        .push(ChatMessage::tool_result(tool_call.id.clone(), result));
                }
                step += 1;
            }
            let mut streamed = deltas.is_some();
            if answer.trim().is_empty() && interrupted.is_some() {
                answer.clone_from(&bot.settings.unavailable_message);
                streamed = false;
            }
            let mut llm = json!({
                "provider": route.provider_id,
                "model": route.model,
                "fallback": position > 0,
                "usage_estimated": estimated,
            });
            if !attempts.is_empty() {
                llm["attempts"] = Value::Array(std::mem::take(&mut attempts));
            }
            if let Some(code) = interrupted {
                llm["interrupted"] = json!(code);
            }
            let call = LlmCall {
                provider: route.provider_id.clone(),
                model: route.model.clone(),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cost_micros: info.cost_micros(usage),
                estimated,
            };
            let mut message = reply(answer, call, llm, retrieved.as_ref());
            if !runs.is_empty() {
                message.payload["tools"] = runs.iter().map(ToolRun::to_json).collect();
            }
            return Ok((message, streamed));
        }

        let tried = Value::Array(attempts.clone());
        tracing::warn!(bot = %bot.id, attempts = %tried, "no language model could answer");
        let mut message = NewMessage::text(
            MessageDirection::Outbound,
            bot.settings.unavailable_message.clone(),
        );
        message.payload = json!({
            "error": PROVIDER_UNAVAILABLE,
            "llm": { "attempts": attempts },
        });
        Ok((message, false))
    }
}

/// The reply to store for an answer.
fn reply(
    answer: String,
    call: LlmCall,
    llm: Value,
    retrieved: Option<&rag::Retrieved>,
) -> NewMessage {
    let mut message = NewMessage::text(MessageDirection::Outbound, answer);
    message.llm = Some(call);
    let mut payload = json!({ "llm": llm });
    if let Some(retrieved) = retrieved.filter(|r| !r.hits.is_empty()) {
        payload["citations"] = rag::citations(&message.text, &retrieved.hits);
    }
    message.payload = payload;
    message
}
