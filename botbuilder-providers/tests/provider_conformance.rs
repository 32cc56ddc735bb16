//! Every remote provider against the same contract, each talking to a fake of its API.

mod openai {
    botbuilder_providers::provider_conformance_suite!(botbuilder_providers::testing::OpenAiWire);
}

mod anthropic {
    botbuilder_providers::provider_conformance_suite!(botbuilder_providers::testing::AnthropicWire);
}
